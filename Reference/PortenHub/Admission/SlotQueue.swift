import Synchronization

/// The admission queue: requests waiting for a slot on a model whose compliant nodes are all at
/// their concurrency, one ``FairQueue`` per model. The registry hands each freed slot straight to
/// the next waiter whose key may use that node; nobody polls.
///
/// Every change of a model's capacity bumps its generation (as ``LoadSignal`` does for loads): a
/// request queues only if nothing changed since it was routed, so a slot freed in between is never
/// missed.
final class SlotQueue: Sendable {
    enum Outcome: Sendable {
        /// A slot was taken on this node for the request: run it there.
        case granted(NodeConnection)
        /// The model's nodes changed (one left, one arrived, a load ended): route again.
        case reroute
    }

    /// A request's place in a model's queue; what it comes to arrives in its mailbox.
    struct Ticket: Sendable {
        let model: String
        let id: Int
        let mailbox = Mailbox<Outcome>()
    }

    struct Waiter: Sendable {
        let ticket: Ticket
        let caller: PolicyRouting.Caller
        let since: ContinuousClock.Instant

        var id: Int { ticket.id }
        func resume(_ outcome: Outcome) { ticket.mailbox.deliver(outcome) }
    }

    private struct State {
        var queues: [String: FairQueue<Waiter>] = [:]
        var generations: [String: Int] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    func generation(of model: String) -> Int { state.withLock { $0.generations[model, default: 0] } }

    func depth(of model: String) -> Int { state.withLock { $0.queues[model]?.count ?? 0 } }

    /// Takes a place in `model`'s queue, in the lane of `key`; nil when its generation moved past
    /// `generation` (something changed since the request was routed: route again).
    func enqueue(for model: String, after generation: Int, key: String, caller: PolicyRouting.Caller, now: ContinuousClock.Instant) -> Ticket? {
        state.withLock { state in
            guard state.generations[model, default: 0] == generation else { return nil }
            state.nextID += 1
            let ticket = Ticket(model: model, id: state.nextID)
            state.queues[model, default: FairQueue()].enqueue(Waiter(ticket: ticket, caller: caller, since: now), id: ticket.id, key: key)
            return ticket
        }
    }

    /// What `ticket` came to, if it comes within `limit`; nil when the limit passes first or the
    /// task is cancelled, and the request keeps its place.
    func wait(_ ticket: Ticket, within limit: Duration) async -> Outcome? {
        await ticket.mailbox.value(within: limit)
    }

    /// Gives up `ticket`'s place. Nil when it was still waiting; otherwise what it came to just
    /// before: a slot granted then is the caller's to use or release.
    func leave(_ ticket: Ticket) async -> Outcome? {
        let removed = state.withLock { state -> Bool in
            guard state.queues[ticket.model]?.remove(id: ticket.id) != nil else { return false }
            if state.queues[ticket.model]?.isEmpty == true { state.queues[ticket.model] = nil }
            return true
        }
        guard !removed else { return nil }
        // Taken out by the one granting or rerouting it, who delivers right after.
        return await ticket.mailbox.value()
    }

    /// Moves `model`'s generation on: requests routed before this will not queue.
    func bump(_ model: String) {
        state.withLock { $0.generations[model, default: 0] += 1 }
    }

    /// Takes out the next waiter for `model`, in fair order, that `accepts`.
    func next(for model: String, where accepts: (Waiter) -> Bool) -> Waiter? {
        state.withLock { state in
            guard state.queues[model] != nil else { return nil }
            defer { if state.queues[model]?.isEmpty == true { state.queues[model] = nil } }
            return state.queues[model]!.dequeue(where: accepts)
        }
    }

    /// Bumps `model`'s generation and sends everyone waiting for it to route again.
    func rerouteAll(_ model: String) {
        let waiters = state.withLock { state -> [Waiter] in
            state.generations[model, default: 0] += 1
            return state.queues.removeValue(forKey: model)?.elements ?? []
        }
        for waiter in waiters { waiter.resume(.reroute) }
    }

    /// `model`'s queue as the planner weighs it: its depth, the longest wait, and the policy of
    /// the request that has waited longest (a replica is placed where it may run). Nil when
    /// nobody waits; only this model's queue is read.
    func pressure(of model: String, now: ContinuousClock.Instant) -> (depth: Int, longestWait: Duration, oldest: PolicyRouting.Caller)? {
        state.withLock { state in
            guard let queue = state.queues[model], let oldest = queue.elements.min(by: { $0.since < $1.since }) else { return nil }
            return (queue.count, now - oldest.since, oldest.caller)
        }
    }

    /// Models with someone waiting.
    var waitingModels: [String] { state.withLock { Array($0.queues.keys) } }

    /// Queue depth and longest wait per model, for operators.
    func snapshot(now: ContinuousClock.Instant) -> [String: (depth: Int, longestWait: Duration)] {
        state.withLock { state in
            state.queues.mapValues { queue in (queue.count, queue.elements.map { now - $0.since }.max() ?? .zero) }
        }
    }
}
