import Synchronization

/// The requests of one tunnel session that the Hub has cancelled; engines poll it between tokens.
final class CancellationRegistry: Sendable {
    private let cancelled = Mutex<Set<String>>([])

    func cancel(_ id: String) { cancelled.withLock { _ = $0.insert(id) } }
    func isCancelled(_ id: String) -> Bool { cancelled.withLock { $0.contains(id) } }
    func forget(_ id: String) { cancelled.withLock { _ = $0.remove(id) } }
}
