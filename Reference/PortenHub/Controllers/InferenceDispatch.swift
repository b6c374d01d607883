import NodeProtocol
import OpenAIWire

/// One request in flight on a node: the channel of its events and the slot it holds.
///
/// It is handed from the route handler to the streaming body writer and only ever used by one
/// task at a time, which is why it may cross that boundary.
final class InferenceDispatch: @unchecked Sendable {
    let connection: NodeConnection
    let model: String
    let requestID: String
    /// The nodes tried, this one included (a node that failed before answering is replaced).
    let attempts: Int
    /// When the `infer` went to this node: the earliest a first token the node held (`held_ms`) can date from.
    let sent: ContinuousClock.Instant
    private let registry: NodeRegistry
    private let events: EventChannel
    /// The first event, read before the request is handed over (see ``Routing``).
    private var first: NodeEvent?
    private var ended = false

    init(
        connection: NodeConnection, model: String, requestID: String, attempts: Int, sent: ContinuousClock.Instant, registry: NodeRegistry,
        events: EventChannel
    ) {
        self.connection = connection
        self.model = model
        self.requestID = requestID
        self.attempts = attempts
        self.sent = sent
        self.registry = registry
        self.events = events
    }

    /// Reads the node's first event, which ``next()`` then returns first; false, with nothing
    /// read, when `pause` comes first (nil: no pause).
    func readFirstEvent(until pause: ContinuousClock.Instant?) async throws(APIError) -> Bool {
        // A cancelled task reads on: its read ends the answer, as it would without a pause.
        if let pause, !(await events.ready(within: max(.zero, pause - .now))), !Task.isCancelled { return false }
        first = try await next()
        return true
    }

    /// The next event; nil once the request ended. A node failure is thrown as its ``APIError``.
    func next() async throws(APIError) -> NodeEvent? {
        if let event = first {
            first = nil
            return event
        }
        do {
            guard let event = try await events.next() else { return nil }
            if case .end = event { ended = true }
            return event
        } catch {
            ended = true
            throw error
        }
    }

    /// The next event if it is already in, without waiting; nil otherwise (then ``next()`` waits
    /// for one, or tells the end).
    func nextIfReady() -> NodeEvent? {
        if let event = first {
            first = nil
            return event
        }
        guard let event = events.nextIfReady() else { return nil }
        if case .end = event { ended = true }
        return event
    }

    /// Gives the slot back, first cancelling the request on the node if it had not ended.
    func close() async {
        if !ended { connection.cancel(requestID) }
        await registry.release(connection, model: model)
    }
}
