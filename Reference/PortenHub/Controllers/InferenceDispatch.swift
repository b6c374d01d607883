import NodeProtocol
import OpenAIWire

/// One request in flight on a node: its event stream and the slot it holds.
///
/// The iterator is handed from the route handler to the streaming body writer and only ever used
/// by one task at a time, which is why the box may cross that boundary.
final class InferenceDispatch: @unchecked Sendable {
    let connection: NodeConnection
    let model: String
    let requestID: String
    private let registry: NodeRegistry
    private var iterator: NodeConnection.EventStream.AsyncIterator
    private var ended = false

    private init(connection: NodeConnection, model: String, requestID: String, registry: NodeRegistry, stream: NodeConnection.EventStream) {
        self.connection = connection
        self.model = model
        self.requestID = requestID
        self.registry = registry
        self.iterator = stream.makeAsyncIterator()
    }

    /// How many loads one request may start (a load that fails or whose node leaves re-routes it).
    static let maximumLoads = 3

    /// Finds a node for `model` (waiting up to `warmupBudget` for it to load if it must), takes a
    /// slot on it and sends the request.
    static func start(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, requestID: String, caller: PolicyRouting.Caller,
        registry: NodeRegistry, warmupBudget: Duration
    ) async throws(APIError) -> InferenceDispatch {
        let connection = try await acquire(model, for: caller, registry: registry, until: .now + warmupBudget)
        do {
            let stream = try await connection.start(
                .init(id: requestID, kind: kind, model: model.id, body: body, capabilities: model.capabilities))
            return InferenceDispatch(connection: connection, model: model.id, requestID: requestID, registry: registry, stream: stream)
        } catch {
            await registry.release(connection, model: model.id)
            throw error
        }
    }

    /// Routes until a node has a slot, sending the loads and unloads the planner decides and
    /// waiting for each load until `deadline`; past it, `503 model_warming`.
    private static func acquire(
        _ model: CatalogModel, for caller: PolicyRouting.Caller, registry: NodeRegistry, until deadline: ContinuousClock.Instant
    ) async throws(APIError) -> NodeConnection {
        var isNew = true
        var loadsStarted = 0
        while true {
            let admission = try await registry.admit(model, for: caller, isNew: isNew)
            isNew = false
            switch admission {
            case .dispatch(let connection):
                return connection
            case .wait(let generation, let commands):
                for command in commands { try? await command.connection.send(command.frame) }
                if !commands.isEmpty {
                    loadsStarted += 1
                    guard loadsStarted <= maximumLoads else {
                        throw .noAvailableNode("'\(model.id)' failed to load on \(maximumLoads) nodes in a row; retry shortly.", retryAfter: 5)
                    }
                }
                switch await waitForLoad(of: model.id, after: generation, signal: registry.signal, until: deadline) {
                case .changed?: continue
                case .failed(let error)?: throw error
                case .cancelled?, nil: throw .modelWarming(model.id, retryAfter: await registry.retryAfter(loading: model.id))
                }
            }
        }
    }

    /// The next change of `model`'s load, or nil when `deadline` comes first.
    private static func waitForLoad(of model: String, after generation: Int, signal: LoadSignal, until deadline: ContinuousClock.Instant)
        async -> LoadSignal.Outcome?
    {
        guard deadline > .now else { return nil }
        return await withTaskGroup(of: LoadSignal.Outcome?.self) { group in
            group.addTask { await signal.wait(for: model, after: generation) }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
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
        await registry.release(connection, model: model)
    }
}
