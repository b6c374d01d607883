import Synchronization

/// One value someone delivers later, for whoever waits on it with a time limit: a waiter that
/// gives up is removed and the mailbox stays as it was, so it can be waited on again, by the same
/// task or another. Used for a queued request's slot (``SlotQueue``).
final class Mailbox<Value: Sendable>: Sendable {
    private struct State {
        var value: Value?
        var waiters: [Int: CheckedContinuation<Value?, Never>] = [:]
        var next = 0
    }

    private let state = Mutex(State())

    init() {}

    /// Stores `value` (the first delivery wins) and wakes every waiter.
    func deliver(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value?, Never>] in
            guard state.value == nil else { return [] }
            state.value = value
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, however long it takes and even in a cancelled task: for a value known to be on
    /// its way.
    func value() async -> Value {
        await withCheckedContinuation { (continuation: CheckedContinuation<Value?, Never>) in
            let ready = state.withLock { state -> Value? in
                if let value = state.value { return value }
                state.waiters[state.next] = continuation  // never removed: resumed on delivery
                state.next += 1
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }!
    }

    /// The value if it is there within `limit` (no limit: until it is); nil when the limit passes
    /// first or the waiting task is cancelled.
    func value(within limit: Duration?) async -> Value? {
        let ticket = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        let park = { (continuation: CheckedContinuation<Value?, Never>) -> Value?? in
            self.state.withLock { state in
                if let value = state.value { return value }
                if Task.isCancelled { return .some(nil) }
                state.waiters[ticket] = continuation
                return nil
            }
        }
        let unpark = { @Sendable in self.state.withLock { $0.waiters.removeValue(forKey: ticket) } }
        return await parkedWait(cancelled: nil, expired: nil, within: limit, park: park, unpark: unpark)
    }
}
