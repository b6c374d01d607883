import OpenAIWire
import Synchronization

/// Wakes the requests waiting for a model to load. Every change of a model's load (ready,
/// failed, node gone) bumps its generation; a request waits for the generation after the one it
/// saw when it was routed, so a change between routing and waiting is never missed.
final class LoadSignal: Sendable {
    enum Outcome: Sendable, Equatable {
        /// Something changed: route again (the model may be ready, or its node gone).
        case changed
        /// The load failed with this error; the waiting requests fail with it.
        case failed(APIError)
        /// The waiting task was cancelled (client gone).
        case cancelled
        /// The wait's limit passed first; waiting again after the same generation misses nothing.
        case expired
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Outcome, Never>
    }

    private struct State {
        var generations: [String: Int] = [:]
        var lastOutcome: [String: Outcome] = [:]
        var waiters: [String: [Waiter]] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    /// The current generation of `model`'s load.
    func generation(of model: String) -> Int {
        state.withLock { $0.generations[model, default: 0] }
    }

    /// Returns at the first change of `model` after `generation`, at once if it already happened,
    /// or `expired` once `limit` passes.
    func wait(for model: String, after generation: Int, within limit: Duration) async -> Outcome {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        return await parkedWait(cancelled: .cancelled, expired: .expired, within: limit) { continuation in
            state.withLock { state -> Outcome? in
                if state.generations[model, default: 0] != generation { return state.lastOutcome[model] ?? .changed }
                if Task.isCancelled { return .cancelled }
                state.waiters[model, default: []].append(Waiter(id: id, continuation: continuation))
                return nil
            }
        } unpark: {
            self.state.withLock { state in
                guard let index = state.waiters[model]?.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters[model]!.remove(at: index).continuation
            }
        }
    }

    /// Bumps `model`'s generation and wakes everyone waiting on it with `outcome`.
    func signal(_ model: String, _ outcome: Outcome) {
        let waiters = state.withLock { state -> [Waiter] in
            state.generations[model, default: 0] += 1
            state.lastOutcome[model] = outcome
            return state.waiters.removeValue(forKey: model) ?? []
        }
        for waiter in waiters { waiter.continuation.resume(returning: outcome) }
    }
}
