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

        /// Queues `row` unless the loop has stopped; false when it has.
        mutating func enqueue(_ row: UsageRecord, waiter: CheckedContinuation<Bool, Never>?) -> Bool {
            guard !stopped else { return false }
            rows.append(row)
            if let waiter { waiters.append(waiter) }
            return true
        }
    }

    private let store: any HubStore
    private let logger: Logger
    private let queue = Mutex(Queue())
    /// Rows handed over after shutdown whose writes have not finished.
    private let lateWrites = Mutex(0)
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    private let ledger: LedgerPolicy

    public init(store: any HubStore, ledger: LedgerPolicy = LedgerPolicy(), logger: Logger) {
        self.store = store
        self.ledger = ledger
        self.logger = logger
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one row; returns at once. After shutdown (a request that outlived the server's
    /// drain) the row is written by a task of its own, as nobody waits for it.
    public func record(_ record: UsageRecord) {
        if queue.withLock({ $0.enqueue(record, waiter: nil) }) {
            signal.yield()
        } else {
            lateWrites.withLock { $0 += 1 }
            Task {
                await write([record])
                lateWrites.withLock { $0 -= 1 }
            }
        }
    }

    /// Queues one row and returns once it is written (with the other rows of its batch): true,
    /// or false when the database refused the batch. After shutdown the caller writes it.
    @discardableResult
    public func commit(_ record: UsageRecord) async -> Bool {
        if queue.withLock({ $0.stopped }) { return await write([record]) }
        return await withCheckedContinuation { continuation in
            if queue.withLock({ $0.enqueue(record, waiter: continuation) }) {
                signal.yield()
            } else {
                // Stopped between the check and now: nobody flushes the queue any more.
                Task { continuation.resume(returning: await write([record])) }
            }
        }
    }

    /// Returns once the rows handed over after shutdown are written: the process awaits it
    /// before it closes the database.
    public func drained() async {
        while lateWrites.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(10)) }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in signals { await writeQueued() }
        } onGracefulShutdown: {
            self.signal.finish()
        }
        queue.withLock { $0.stopped = true }
        await writeQueued()
    }

    /// Returns once every row handed over before the call is written (or refused). The loop
    /// writes it: a batch it is writing already may hold rows handed over just before, and only
    /// the loop's next write comes after that one.
    public func flush() async {
        var waiting = false
        _ = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            waiting = queue.withLock { queue in
                guard !queue.stopped else { return false }
                queue.waiters.append(continuation)
                return true
            }
            if waiting { signal.yield() } else { continuation.resume(returning: true) }
        }
        if !waiting { await writeQueued() }  // after shutdown: no loop
    }

    /// Inserts every queued row now, then releases the requests waiting on them with the outcome.
    private func writeQueued() async {
        let (batch, waiters) = queue.withLock { queue in
            defer {
                queue.rows.removeAll()
                queue.waiters.removeAll()
            }
            return (queue.rows, queue.waiters)
        }
        let stored = batch.isEmpty ? true : await write(batch)
        for waiter in waiters { waiter.resume(returning: stored) }
    }

    /// Inserts `rows` (and posts their charges) in one transaction; false when the database refused.
    private func write(_ rows: [UsageRecord]) async -> Bool {
        do {
            try await store.insertUsage(rows, ledger: ledger)
            return true
        } catch {
            logger.error("could not record \(rows.count) usage rows: \(error)")
            return false
        }
    }
}
