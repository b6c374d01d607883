import Logging
import ServiceLifecycle
import Synchronization

/// Writes usage rows in batches (group commit). A request that succeeded awaits ``commit(_:)``,
/// which returns once its row is in the database, before the client gets the end of its answer:
/// an answer the client received is never missing from the meter, even if the Hub is killed right
/// after. Other rows are handed over with ``record(_:)`` without waiting.
///
/// One write at a time. A request that commits while none is under way writes its row itself,
/// with whatever is queued (no hop to the background loop and back); rows handed over during a
/// write queue behind it, and the background loop writes them as the next batch.
public final class UsageRecorder: Service {
    /// Rows for one write, and the requests waiting for it.
    private struct Batch {
        var rows: [UsageRecord] = []
        var waiters: [CheckedContinuation<Bool, Never>] = []
        var isEmpty: Bool { rows.isEmpty && waiters.isEmpty }
    }

    private struct Queue {
        var queued = Batch()
        /// A write is under way; whoever ends it hands the rows queued meanwhile on.
        var writing = false
        /// After shutdown the background loop is gone: rows are written by whoever hands them over.
        var stopped = false

        /// Queues `row`: nil once the loop has stopped; else whether the loop must be woken
        /// (no write is under way to hand the row on).
        mutating func enqueue(_ row: UsageRecord, waiter: CheckedContinuation<Bool, Never>?) -> Bool? {
            guard !stopped else { return nil }
            queued.rows.append(row)
            if let waiter { queued.waiters.append(waiter) }
            return !writing
        }

        /// Starts a write of the queued rows, and `row`, unless one is under way.
        mutating func startWrite(adding row: UsageRecord? = nil) -> Batch? {
            guard !writing else { return nil }
            writing = true
            var batch = queued
            queued = Batch()
            if let row { batch.rows.append(row) }
            return batch
        }

        /// Ends a write. What queued meanwhile is the loop's to write (`wake`) or, once the loop
        /// has stopped, this writer's (`next`, and the write goes on).
        mutating func endWrite() -> (next: Batch?, wake: Bool) {
            guard !queued.isEmpty, stopped else {
                writing = false
                return (nil, !queued.isEmpty)
            }
            defer { queued = Batch() }
            return (queued, false)
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
        switch queue.withLock({ $0.enqueue(record, waiter: nil) }) {
        case true?: signal.yield()
        case false?: break
        case nil:
            lateWrites.withLock { $0 += 1 }
            Task {
                await insert([record])
                lateWrites.withLock { $0 -= 1 }
            }
        }
    }

    /// Writes one row, with the other rows of its batch, and returns once it is written: true,
    /// or false when the database refused the batch.
    @discardableResult
    public func commit(_ record: UsageRecord) async -> Bool {
        // A cancelled task's write may be interrupted; it must not carry other requests' rows.
        if !Task.isCancelled, let batch = queue.withLock({ $0.startWrite(adding: record) }) {
            return await write(batch)
        }
        return await withCheckedContinuation { continuation in
            switch queue.withLock({ $0.enqueue(record, waiter: continuation) }) {
            case true?: signal.yield()
            case false?: break
            // Stopped, with a write under way: nobody writes the queue any more.
            case nil: Task { continuation.resume(returning: await insert([record])) }
            }
        }
    }

    /// Returns once the rows handed over after shutdown are written: the process awaits it
    /// before it closes the database.
    public func drained() async {
        while queue.withLock({ $0.writing }) || lateWrites.withLock({ $0 }) > 0 { try? await Task.sleep(for: .milliseconds(10)) }
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in signals {
                if let batch = queue.withLock({ $0.startWrite() }) { await write(batch) }
            }
        } onGracefulShutdown: {
            self.signal.finish()
        }
        queue.withLock { $0.stopped = true }
        await flush()
    }

    /// Returns once every row handed over before the call is in the database (or refused).
    public func flush() async {
        while true {
            if let batch = queue.withLock({ $0.startWrite() }) {
                await write(batch)
                return
            }
            // A write is under way: wait for the next, which takes every row queued before now.
            var waiting = false
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                waiting = queue.withLock { queue in
                    guard queue.writing else { return false }
                    queue.queued.waiters.append(continuation)
                    return true
                }
                if !waiting { continuation.resume(returning: true) }
            }
            if waiting { return }
        }
    }

    /// Writes `batch` and releases its waiters, then ends the write (after shutdown, writing what
    /// queued meanwhile too); whether `batch` was stored.
    @discardableResult
    private func write(_ batch: Batch) async -> Bool {
        let stored = await insertAndRelease(batch)
        while let next = endWrite() { await insertAndRelease(next) }
        return stored
    }

    @discardableResult
    private func insertAndRelease(_ batch: Batch) async -> Bool {
        let stored = batch.rows.isEmpty ? true : await insert(batch.rows)
        for waiter in batch.waiters { waiter.resume(returning: stored) }
        return stored
    }

    private func endWrite() -> Batch? {
        let (next, wake) = queue.withLock { $0.endWrite() }
        if wake { signal.yield() }
        return next
    }

    /// Inserts `rows` (and posts their charges) in one transaction; false when the database refused.
    @discardableResult
    private func insert(_ rows: [UsageRecord]) async -> Bool {
        do {
            try await store.insertUsage(rows, ledger: ledger)
            return true
        } catch {
            logger.error("could not record \(rows.count) usage rows: \(error)")
            return false
        }
    }
}
