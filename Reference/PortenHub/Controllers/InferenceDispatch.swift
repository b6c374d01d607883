import NodeProtocol
import OpenAIWire

/// One request in flight on a node: its event stream and the slot it holds.
///
/// The iterator is handed from the route handler to the streaming body writer and only ever used
/// by one task at a time, which is why the box may cross that boundary.
final class InferenceDispatch: @unchecked Sendable {
    let connection: NodeConnection
    let requestID: String
    private let registry: NodeRegistry
    private var iterator: NodeConnection.EventStream.AsyncIterator
    private var ended = false

    private init(connection: NodeConnection, requestID: String, registry: NodeRegistry, stream: NodeConnection.EventStream) {
        self.connection = connection
        self.requestID = requestID
        self.registry = registry
        self.iterator = stream.makeAsyncIterator()
    }

    /// Picks a node for `model`, takes a slot on it and sends the request.
    static func start(_ kind: TunnelMessage.Infer.Kind, model: String, body: JSONValue, requestID: String, registry: NodeRegistry)
        async throws(APIError) -> InferenceDispatch
    {
        let connection = try await registry.acquire(model: model)
        do {
            let stream = try await connection.start(.init(id: requestID, kind: kind, model: model, body: body))
            return InferenceDispatch(connection: connection, requestID: requestID, registry: registry, stream: stream)
        } catch {
            await registry.release(connection)
            throw error
        }
    }

    /// The next event; nil once the request ended. A node failure is thrown as its ``APIError``.
    func next() async throws(APIError) -> NodeEvent? {
        do {
            guard let event = try await iterator.next() else { return nil }
            if case .end = event { ended = true }
            return event
        } catch let error as APIError {
            ended = true
            throw error
        } catch {
            throw .nodeError("The request was interrupted: \(error).")
        }
    }

    /// Gives the slot back, first cancelling the request on the node if it had not ended.
    func close() async {
        if !ended { await connection.cancel(requestID) }
        await registry.release(connection)
    }
}
