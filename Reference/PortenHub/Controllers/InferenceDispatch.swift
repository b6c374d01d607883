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
    /// The nodes tried, this one included (a node that failed before answering is replaced).
    let attempts: Int
    private let registry: NodeRegistry
    private var iterator: NodeConnection.EventStream.AsyncIterator
    /// The first event, read before the request is handed over (see ``start``).
    private var first: NodeEvent?
    private var ended = false

    private init(
        connection: NodeConnection, model: String, requestID: String, attempts: Int, registry: NodeRegistry, stream: NodeConnection.EventStream
    ) {
        self.connection = connection
        self.model = model
        self.requestID = requestID
        self.attempts = attempts
        self.registry = registry
        self.iterator = stream.makeAsyncIterator()
    }

    /// How many loads one request may start (a load that fails or whose node leaves re-routes it).
    static let maximumLoads = 3
    /// How many nodes one request may be tried on before the client gets the last node's error.
    static let maximumAttempts = 3

    /// How long a request may wait: for a cold model to load, and for a slot in the admission queue.
    struct Budgets: Sendable {
        var warmup: Duration
        var queue: Duration
    }

    /// Finds a node for `model` (waiting up to the warm-up budget for it to load, and up to the
    /// queue budget for a slot, if it must), takes a slot on it, sends the request and waits for
    /// the node's first event.
    ///
    /// Failover before the first byte: when the node fails before that event — the tunnel drops,
    /// or it answers with a `5xx` (its engine failed, it stayed silent) — nothing has reached the
    /// client yet, so the request goes to another node its key may use (at most
    /// ``maximumAttempts`` in all) and the registry counts the failure against the node and model
    /// (outlier ejection). A client mistake (`4xx`) is the answer, not a node failure.
    static func start(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, requestID: String, caller: PolicyRouting.Caller, keyID: String,
        registry: NodeRegistry, metrics: HubMetrics? = nil, budgets: Budgets
    ) async throws(APIError) -> InferenceDispatch {
        let started = ContinuousClock.now
        var failed: Set<String> = []
        var lastFailure: APIError?
        for attempt in 1...maximumAttempts {
            let connection: NodeConnection
            do {
                connection = try await acquire(
                    model, for: caller, keyID: keyID, excluding: failed, registry: registry, metrics: metrics, loadDeadline: started + budgets.warmup,
                    queueDeadline: started + budgets.queue)
            } catch {
                // No other node for a retry: the client learns what went wrong on the one that failed.
                if let lastFailure, error.code == "no_available_node" { throw lastFailure }
                throw error
            }
            let infer = TunnelMessage.Infer(id: requestID, kind: kind, model: model.id, body: body, capabilities: model.capabilities, ctx: model.ctx)
            let dispatch: InferenceDispatch
            do {
                dispatch = InferenceDispatch(
                    connection: connection, model: model.id, requestID: requestID, attempts: attempt, registry: registry,
                    stream: try await connection.start(infer))
            } catch {
                await registry.release(connection, model: model.id)
                await registry.recordFailure(of: model.id, on: connection)
                (failed, lastFailure) = (failed.union([connection.node.id]), error)
                continue
            }
            do {
                try await dispatch.readFirstEvent()
                if registry.hasFailures { await registry.recordSuccess(of: model.id, on: connection) }
                return dispatch
            } catch where error.status >= 500 {
                await dispatch.close()
                await registry.recordFailure(of: model.id, on: connection)
                (failed, lastFailure) = (failed.union([connection.node.id]), error)
            } catch {
                // A client mistake: the node answered, and is healthy.
                await dispatch.close()
                await registry.recordSuccess(of: model.id, on: connection)
                throw error
            }
        }
        throw lastFailure ?? .noAvailableNode("No node could serve '\(model.id)'.")
    }

    /// Routes until a node has a slot, sending the loads and unloads the planner decides and
    /// waiting for each load until `loadDeadline` (past it, `503 model_warming`), and in the
    /// model's admission queue until `queueDeadline` (past it, `503 no_available_node`).
    private static func acquire(
        _ model: CatalogModel, for caller: PolicyRouting.Caller, keyID: String, excluding failed: Set<String>, registry: NodeRegistry,
        metrics: HubMetrics?, loadDeadline: ContinuousClock.Instant, queueDeadline: ContinuousClock.Instant
    ) async throws(APIError) -> NodeConnection {
        var isNew = failed.isEmpty
        var loadsStarted = 0
        while true {
            let admission = try await registry.admit(model, for: caller, isNew: isNew, excluding: failed)
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
                let waitStarted = ContinuousClock.now
                let outcome = await waitForLoad(of: model.id, after: generation, signal: registry.signal, until: loadDeadline)
                metrics?.waited("warmup", model: model.id, .now - waitStarted)
                switch outcome {
                case .changed?: continue
                case .failed(let error)?: throw error
                case .cancelled?, nil: throw .modelWarming(model.id, retryAfter: await registry.retryAfter(loading: model.id))
                }
            case .queue(let generation):
                let waitStarted = ContinuousClock.now
                let outcome = await waitForSlot(model.id, after: generation, keyID: keyID, caller: caller, slots: registry.slots, until: queueDeadline)
                metrics?.waited("queue", model: model.id, .now - waitStarted)
                switch outcome {
                case .granted(let connection)?: return connection
                case .reroute?: continue
                case .cancelled?, nil:
                    let waiting = registry.slots.depth(of: model.id)
                    throw .noAvailableNode(
                        "Every node serving '\(model.id)' that this key may use stayed busy for the request's queue budget (\(waiting) still waiting). Retry shortly.",
                        retryAfter: await registry.queueRetryAfter(model.id))
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

    /// A slot on a node serving `model`, a reroute, or nil when `deadline` comes first. A slot
    /// granted as the deadline passes is still taken.
    private static func waitForSlot(
        _ model: String, after generation: Int, keyID: String, caller: PolicyRouting.Caller, slots: SlotQueue, until deadline: ContinuousClock.Instant
    ) async -> SlotQueue.Outcome? {
        guard deadline > .now else { return nil }
        return await withTaskGroup(of: SlotQueue.Outcome?.self) { group in
            group.addTask { await slots.wait(for: model, after: generation, key: keyID, caller: caller, now: .now) }
            group.addTask {
                try? await Task.sleep(until: deadline)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            guard first == nil else { return first }
            // The timer won: a slot granted at that very moment is still taken, not leaked.
            let late = await group.next() ?? nil
            if case .granted? = late { return late }
            return nil
        }
    }

    /// Reads the node's first event, which ``next()`` then returns first.
    private func readFirstEvent() async throws(APIError) {
        first = try await next()
    }

    /// The next event; nil once the request ended. A node failure is thrown as its ``APIError``.
    func next() async throws(APIError) -> NodeEvent? {
        if let event = first {
            first = nil
            return event
        }
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
        if !ended { connection.cancel(requestID) }
        await registry.release(connection, model: model)
    }
}
