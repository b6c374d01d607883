import Logging
import ServiceLifecycle
import Synchronization

/// Writes usage rows in batches off the request path (group commit). A request that succeeded
/// awaits ``commit(_:)``, which returns once its row is in the database, before the client gets
/// the end of its answer: an answer the client received is never missing from the meter, even if
/// the Hub is killed right after. Other rows are handed over with ``record(_:releasing:)`` without
/// waiting; when their write fails they are kept, and the loop tries them once more after a
/// later write succeeds.
///
/// One writer at a time writes what is queued. A committing request that is the only one being
/// metered writes its row itself when the store writes in place (SQLite): waking the loop, and
/// being woken by it, costs such a request more than its write (a batch of one either way). Under
/// load the loop writes, in batches, so no request's thread (an HTTP connection's event loop)
/// stops for a write; rows queued behind a request's write go to the loop too.
public final class UsageRecorder: Service {
    private typealias Waiter = CheckedContinuation<Bool, Never>

    /// Who writes the queued rows. Rows are only ever queued while someone is.
    private enum Writer { case nobody, request, loop }

    private struct Queue {
        /// The rows to write next, in the order they came.
        var rows: [UsageRecord] = []
        /// Those of them nobody waits for (``record(_:releasing:)``): kept if their write fails.
        var handedOver: [UsageRecord] = []
        /// Handed-over rows whose write failed: tried once more, by the loop, in chunks of
        /// ``retryChunk`` after a batch of its own was written (the database is back); the request
        /// id keeps the ledger from posting one twice. The oldest go past ``keptRowsLimit``.
        var unwritten: [UsageRecord] = []
        var waiters: [Waiter] = []
        /// Credit reserved by the requests of queued rows: released once their rows are written.
        var tickets: [CreditReservations.Ticket] = []
        /// The tickets of rows whose write failed: a write that timed out may still commit, and a
        /// kept row is written later, so they are released once a write succeeds with no row
        /// kept any more (fail closed meanwhile).
        var unsettled: [CreditReservations.Ticket] = []
        var writer = Writer.nobody
        /// After shutdown the background loop is gone: rows are written by whoever hands them over.
        var stopped = false

        /// What one write takes.
        struct Batch {
            var rows: [UsageRecord]
            var handedOver: [UsageRecord]
            var waiters: [Waiter]
            var tickets: [CreditReservations.Ticket]
        }

        /// What a writer does next.
        enum Step {
            case write(Batch)
            /// Nothing queued: nobody writes now.
            case done
            /// Rows queued behind a request's write: the loop writes them.
            case handOff
        }

        /// Queues `row` (and its waiter) unless the loop has stopped; true when the loop must be
        /// woken to write it, nil when the loop has stopped.
        mutating func enqueue(_ row: UsageRecord?, waiter: Waiter?, ticket: CreditReservations.Ticket? = nil) -> Bool? {
            guard !stopped else { return nil }
            if let row {
                rows.append(row)
                if waiter == nil { handedOver.append(row) }
            }
            if let waiter { waiters.append(waiter) }
            if let ticket { tickets.append(ticket) }
            guard writer == .nobody else { return false }
            writer = .loop
            return true
        }

        /// The next step of `role`, the current writer; a request's second batch goes to the
        /// loop. `.done` for anyone else (the loop woken after its work was done).
        mutating func next(for role: Writer, afterFirst: Bool) -> Step {
            guard writer == role else { return .done }
            if rows.isEmpty, waiters.isEmpty, tickets.isEmpty {
                writer = .nobody
                return .done
            }
            if role == .request, afterFirst, !stopped {
                writer = .loop
                return .handOff
            }
            defer {
                rows.removeAll(keepingCapacity: true)
                handedOver.removeAll(keepingCapacity: true)
                waiters.removeAll(keepingCapacity: true)
                tickets.removeAll(keepingCapacity: true)
            }
            return .write(Batch(rows: rows, handedOver: handedOver, waiters: waiters, tickets: tickets))
        }

        /// The oldest kept rows, at most `count`, taken for their one retry.
        mutating func takeUnwritten(_ count: Int) -> [UsageRecord] {
            let taken = Array(unwritten.prefix(count))
            unwritten.removeFirst(taken.count)
            return taken
        }

        /// The unsettled tickets, once no kept row is waiting any more.
        mutating func settled() -> [CreditReservations.Ticket] {
            guard unwritten.isEmpty else { return [] }
            defer { unsettled.removeAll() }
            return unsettled
        }

        /// Keeps the handed-over rows of a failed write for their one retry; returns how many of
        /// the oldest went past the limit.
        mutating func keep(unwritten failed: [UsageRecord], limit: Int) -> Int {
            unwritten += failed
            let dropped = max(0, unwritten.count - limit)
            unwritten.removeFirst(dropped)
            return dropped
        }
    }

    /// Handed-over rows kept through failed writes (about 30 MB of rows).
    static let keptRowsLimit = 100_000
    /// Kept rows written together in one retry.
    static let retryChunk = 500

    private let store: any HubStore
    private let logger: Logger
    private let queue = Mutex(Queue())
    /// Requests being metered (``UsageMeter``s alive).
    private let metered = Atomic(0)
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

    /// Requests being metered now: the API requests in flight.
    var meteredRequests: Int { metered.load(ordering: .relaxed) }
    /// A request's meter started (``UsageMeter``).
    func meteringStarted() { metered.add(1, ordering: .relaxed) }
    /// A request's meter is gone, its row handed over.
    func meteringEnded() { metered.subtract(1, ordering: .relaxed) }

    /// Queues one row; returns at once. The request's credit `reservation` is released once the
    /// row (and so its charge) is written: until then a balance read would miss the charge. After
    /// shutdown (a request that outlived the server's drain) the row is written by a task of its
    /// own, as nobody waits for it.
    public func record(_ record: UsageRecord, releasing reservation: CreditReservations.Ticket? = nil) {
        switch queue.withLock({ $0.enqueue(record, waiter: nil, ticket: reservation) }) {
        case true?: signal.yield()
        case false?: break
        case nil:
            lateWrites.withLock { $0 += 1 }
            Task {
                await write([record])
                reservation?.release()
                lateWrites.withLock { $0 -= 1 }
            }
        }
    }

    /// Queues one row and returns once it is written (with the other rows of its batch): true,
    /// or false when the database refused the batch. After shutdown the caller writes it.
    @discardableResult
    public func commit(_ record: UsageRecord) async -> Bool {
        let alone = store.insertsUsageInPlace && metered.load(ordering: .relaxed) <= 1
        let leads: Bool? = queue.withLock { queue in
            guard !queue.stopped else { return nil }
            guard alone, queue.writer == .nobody else { return false }
            queue.writer = .request
            queue.rows.append(record)
            return true
        }
        switch leads {
        case nil: return await write([record])
        case true?: return await writeQueued(as: .request) ?? false
        case false?:
            return await withCheckedContinuation { continuation in
                switch queue.withLock({ $0.enqueue(record, waiter: continuation) }) {
                case true?: signal.yield()
                case false?: break
                case nil:  // stopped between the check and now: nobody flushes the queue any more
                    Task { continuation.resume(returning: await write([record])) }
                }
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
            for await _ in signals { await writeQueued(as: .loop) }
        } onGracefulShutdown: {
            self.signal.finish()
        }
        queue.withLock { $0.stopped = true }
        await writeLeftovers()
    }

    /// After shutdown: writes what is still queued, unless a request is writing (it then writes
    /// everything itself, as nobody takes it over any more).
    private func writeLeftovers() async {
        let loopWrites = queue.withLock { queue in
            if queue.writer == .nobody { queue.writer = .loop }
            return queue.writer == .loop
        }
        if loopWrites { await writeQueued(as: .loop) }
        while queue.withLock({ !$0.unwritten.isEmpty }) { await retryKeptRows(Self.retryChunk) }
    }

    /// Writes up to `count` kept rows, their one retry; rows refused again are dropped (logged).
    private func retryKeptRows(_ count: Int) async {
        let kept = queue.withLock { $0.takeUnwritten(count) }
        guard !kept.isEmpty else { return }
        if await write(kept) {
            logger.notice("wrote \(kept.count) usage rows kept from a failed write")
        } else {
            logger.error("dropped \(kept.count) usage rows: their write failed twice")
        }
    }

    /// Returns once every row handed over before the call is written (or refused). The current
    /// writer writes it: a batch it is writing already may hold rows handed over just before, and
    /// only its next write comes after that one.
    public func flush() async {
        var waiting = false
        _ = await withCheckedContinuation { (continuation: Waiter) in
            switch queue.withLock({ $0.enqueue(nil, waiter: continuation) }) {
            case true?:
                waiting = true
                signal.yield()
            case false?: waiting = true
            case nil: continuation.resume(returning: true)
            }
        }
        if !waiting { await writeLeftovers() }  // after shutdown: no loop
    }

    /// Writes what is queued, batch by batch, and releases the requests waiting on each batch with
    /// its outcome, until nothing is queued. A request writes one batch and hands the rest to the
    /// loop; returns the outcome of the first batch (nil when there was none).
    @discardableResult
    private func writeQueued(as role: Writer) async -> Bool? {
        var first: Bool?
        while true {
            switch queue.withLock({ $0.next(for: role, afterFirst: first != nil) }) {
            case .done: return first
            case .handOff:
                signal.yield()
                return first
            case .write(let batch):
                let rows = batch.rows
                let stored = rows.isEmpty ? true : await write(rows)
                if stored {
                    if !rows.isEmpty, role == .loop { await retryKeptRows(Self.retryChunk) }
                    let settled: [CreditReservations.Ticket] = rows.isEmpty ? [] : queue.withLock { $0.settled() }
                    for ticket in batch.tickets + settled { ticket.release() }
                } else {
                    // A committed row's request answers 503 and hands over a row of its own.
                    let dropped = queue.withLock { queue in
                        queue.unsettled += batch.tickets
                        return queue.keep(unwritten: batch.handedOver, limit: Self.keptRowsLimit)
                    }
                    if dropped > 0 { logger.error("dropped \(dropped) usage rows kept for a retry: more than \(Self.keptRowsLimit) waited") }
                }
                for waiter in batch.waiters { waiter.resume(returning: stored) }
                if first == nil { first = stored }
            }
        }
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
