import Foundation
import Synchronization

/// Delivers each value to every current subscriber. Subscribers come and go (one per tunnel
/// session); `publish` is synchronous, so it can be called from a process-exit handler.
final class Broadcast<Element: Sendable>: Sendable {
    private let subscribers = Mutex<[UUID: AsyncStream<Element>.Continuation]>([:])

    /// A stream of every value published from now on; it ends when its consumer stops iterating.
    func subscribe() -> AsyncStream<Element> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Element>.makeStream()
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = continuation }
        return stream
    }

    func publish(_ value: Element) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(value) }
    }
}
