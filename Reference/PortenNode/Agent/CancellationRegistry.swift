import Synchronization

/// Cancellation signals for the requests of one tunnel session: the `cancel` frame for an id
/// finishes that request's signal, and its runner then cancels the engine's work.
final class CancellationRegistry: Sendable {
    private let signals = Mutex<[String: AsyncStream<Void>.Continuation]>([:])

    /// A signal that finishes when `id` is cancelled (or forgotten).
    func register(_ id: String) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        signals.withLock { $0[id] = continuation }
        return stream
    }

    func cancel(_ id: String) { signals.withLock { $0.removeValue(forKey: id) }?.finish() }
    func forget(_ id: String) { signals.withLock { $0.removeValue(forKey: id) }?.finish() }
}
