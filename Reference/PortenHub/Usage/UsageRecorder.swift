import Logging
import ServiceLifecycle
import Synchronization

/// Writes usage rows in batches off the request path (group commit). A request that succeeded
/// awaits ``commit(_:)``, which returns once its row is in the database, before the client gets
/// the end of its answer: an answer the client received is never missing from the meter, even if
/// the Hub is killed right after. Other rows are handed over with ``record(_:)`` without waiting.
public final class UsageRecorder: Service {
    private struct Queue {
        var rows: [UsageRecord] = []
        var waiters: [CheckedContinuation<Bool, Never>] = []
        /// After shutdown the background loop is gone: rows are written by whoever hands them over.
        var stopped = false
    }

    private let store: HubStore
    private let logger: Logger
    private let queue = Mutex(Queue())
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    private let ledger: LedgerPolicy

    public init(store: HubStore, ledger: LedgerPolicy = LedgerPolicy(), logger: Logger) {
        self.store = store
        self.ledger = ledger
        self.logger = logger
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one row; returns at once.
    public func record(_ record: UsageRecord) {
        let stopped = queue.withLock { queue in
            queue.rows.append(record)
            return queue.stopped
        }
        if stopped { flush() } else { signal.yield() }
    }

    /// Queues one row and returns once it is written (with the other rows of its batch): true,
    /// or false when the database refused the batch.
    @discardableResult
    public func commit(_ record: UsageRecord) async -> Bool {
        await withCheckedContinuation { continuation in
            let stopped = queue.withLock { queue in
                queue.rows.append(record)
                queue.waiters.append(continuation)
                return queue.stopped
            }
            if stopped { flush() } else { signal.yield() }
        }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in signals { flush() }
        } onGracefulShutdown: {
            self.signal.finish()
        }
        queue.withLock { $0.stopped = true }
        flush()
    }

    /// Inserts every queued row now, then releases the requests waiting on them with the outcome.
    public func flush() {
        let (batch, waiters) = queue.withLock { queue in
            defer {
                queue.rows.removeAll()
                queue.waiters.removeAll()
            }
            return (queue.rows, queue.waiters)
        }
        var stored = true
        if !batch.isEmpty {
            do {
                try store.insertUsage(batch, ledger: ledger)
            } catch {
                stored = false
                logger.error("could not record \(batch.count) usage rows: \(error)")
            }
        }
        for waiter in waiters { waiter.resume(returning: stored) }
    }
}
