import OpenAIWire
import Synchronization

/// The node's events for one request, from the tunnel's reader to the request's task: buffered
/// (the connection bounds a request's bytes) and read by one task at a time.
///
/// Unlike an `AsyncThrowingStream`, waiting for an event can time out and leave the channel as it
/// was, so a request can wait for its node's first event in steps and in different tasks (see
/// ``Routing``). A read whose task is cancelled ends the answer, as a stream's would.
final class EventChannel: Sendable {
    private enum Ending {
        case finished
        case failed(APIError)
    }

    private struct State {
        var events: [NodeEvent] = []
        var head = 0
        var ending: Ending?
        var waiter: CheckedContinuation<Bool, Never>?
        /// Which wait the waiter belongs to: a timer that fires late must not take a later one.
        var waitID = 0

        var isReady: Bool { head < events.count || ending != nil }
    }

    private let state = Mutex(State())

    init() {}

    /// Adds an event; nothing once the answer ended.
    func yield(_ event: NodeEvent) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard state.ending == nil else { return nil }
            state.events.append(event)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: true)
    }

    /// Ends the answer after the events already in; with `error`, reading them ends with it.
    func finish(throwing error: APIError? = nil) {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard state.ending == nil else { return nil }
            state.ending = error.map(Ending.failed) ?? .finished
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: true)
    }

    /// True once the next ``next()`` will not wait: an event is in, or the answer ended. False
    /// when `limit` passes first (no limit: never) or the task is cancelled; nothing is taken.
    func ready(within limit: Duration?) async -> Bool {
        let id = state.withLock { state in
            state.waitID += 1
            return state.waitID
        }
        let park = { (continuation: CheckedContinuation<Bool, Never>) -> Bool? in
            self.state.withLock { state in
                if state.isReady { return true }
                if Task.isCancelled { return false }
                state.waiter = continuation
                return nil
            }
        }
        let unpark = { @Sendable in
            self.state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard state.waitID == id else { return nil }
                defer { state.waiter = nil }
                return state.waiter
            }
        }
        return await parkedWait(cancelled: false, expired: false, within: limit, park: park, unpark: unpark)
    }

    /// The next event if one is in, without waiting; nil otherwise (the end of the answer too:
    /// ``next()`` tells it).
    func nextIfReady() -> NodeEvent? {
        state.withLock { Self.take(&$0) }
    }

    /// The next event; nil at the end of the answer, or when the reading task is cancelled. An
    /// answer that failed throws its error once its events are read.
    func next() async throws(APIError) -> NodeEvent? {
        while true {
            let taken = state.withLock { state -> Result<NodeEvent?, APIError>? in
                if let event = Self.take(&state) { return .success(event) }
                switch state.ending {
                case .finished?: return .success(nil)
                case .failed(let error)?: return .failure(error)
                case nil: return nil
                }
            }
            if let taken { return try taken.get() }
            guard await ready(within: nil) else { return nil }
        }
    }

    private static func take(_ state: inout State) -> NodeEvent? {
        guard state.head < state.events.count else { return nil }
        let event = state.events[state.head]
        state.head += 1
        if state.head == state.events.count {
            state.events.removeAll(keepingCapacity: state.events.count <= 16)
            state.head = 0
        } else if state.head >= 64, state.head * 2 >= state.events.count {
            // A reader that lags keeps only what it has not read.
            state.events.removeFirst(state.head)
            state.head = 0
        }
        return event
    }
}
