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
        /// The waiting task was cancelled (client gone, or its budget ran out).
        case cancelled
    }

    struct Waiter: Sendable {
        let id: Int
        let caller: PolicyRouting.Caller
        let since: ContinuousClock.Instant
        let continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State {
        var queues: [String: FairQueue<Waiter>] = [:]
        var generations: [String: Int] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    func generation(of model: String) -> Int { state.withLock { $0.generations[model, default: 0] } }

    func depth(of model: String) -> Int { state.withLock { $0.queues[model]?.count ?? 0 } }

    /// Waits in `model`'s queue, in the lane of `key`, unless its generation moved past `generation`.
    func wait(for model: String, after generation: Int, key: String, caller: PolicyRouting.Caller, now: ContinuousClock.Instant) async
        -> Outcome
    {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await parkedWait(cancelled: .cancelled) { continuation in
            state.withLock { state -> Outcome? in
                if state.generations[model, default: 0] != generation { return .reroute }
                if Task.isCancelled { return .cancelled }
                state.queues[model, default: FairQueue()].enqueue(
                    Waiter(id: id, caller: caller, since: now, continuation: continuation), id: id, key: key)
                return nil
            }
        } unpark: {
            state.withLock { $0.queues[model]?.remove(id: id)?.continuation }
        }
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
        for waiter in waiters { waiter.continuation.resume(returning: .reroute) }
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
