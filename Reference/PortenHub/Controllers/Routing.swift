import NodeProtocol
import OpenAIWire

/// A request's way to a node, taken in steps: find a node for the model (waiting up to the
/// warm-up budget for it to load, and up to the queue budget for a slot, if it must), take a slot
/// on it, send the request and wait for the node's first event.
///
/// ``advance(until:)`` goes on until that first event or until the given instant, whichever
/// comes first; a wait cut short keeps its place (the load's generation, the queue ticket, the
/// sent request), so the next call, by the same task or another, goes on where it stopped. A
/// streamed request waits in the connection's own task this way: first before it answers, then
/// in its body between keep-alive comments. No task of its own is spawned for it.
///
/// Failover before the first byte: when the node fails before that event — the tunnel drops, or
/// it answers with a `5xx` (its engine failed, it stayed silent) — nothing has reached the client
/// yet, so the request goes to another node its key may use (at most ``maximumAttempts`` in all)
/// and the registry counts the failure against the node and model (outlier ejection). A client
/// mistake (`4xx`) is the answer, not a node failure.
///
/// Used by one task at a time, which is why it may cross from the handler into the response body.
final class Routing: @unchecked Sendable {
    /// How long a request may wait: for a cold model to load, and for a slot in the admission queue.
    struct Budgets: Sendable {
        var warmup: Duration
        var queue: Duration
    }

    /// How many loads one request may start (a load that fails or whose node leaves re-routes it).
    static let maximumLoads = 3
    /// How many nodes one request may be tried on before the client gets the last node's error.
    static let maximumAttempts = 3

    private enum Step {
        /// Ask the registry for a node.
        case route
        /// A load was started or is running: wait for its next change after `generation`.
        case load(generation: Int, since: ContinuousClock.Instant)
        /// Every node is busy: wait in the model's queue.
        case queue(SlotQueue.Ticket, since: ContinuousClock.Instant)
        /// Sent to a node: wait for its first event.
        case sent(InferenceDispatch)
        /// Dispatched, failed, or given up: nothing is held any more.
        case over
    }

    private let kind: TunnelMessage.Infer.Kind
    private let model: CatalogModel
    private let body: JSONValue
    private let requestID: String
    private let caller: PolicyRouting.Caller
    private let keyID: String
    private let registry: NodeRegistry
    private let metrics: HubMetrics?
    private let loadDeadline: ContinuousClock.Instant
    private let queueDeadline: ContinuousClock.Instant
    /// Throws when the request's key no longer holds (revoked, its account disabled).
    private let stillAuthorized: (@Sendable () async throws(APIError) -> Void)?
    /// The request waited for a load or a slot: its key is checked again before it is sent.
    private var waited = false

    private var step = Step.route
    private var attempt = 1
    private var isNew = true
    private var loadsStarted = 0
    /// Nodes that failed this request before answering, and the last one's error.
    private var failed: Set<String> = []
    private var lastFailure: APIError?

    init(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, requestID: String, caller: PolicyRouting.Caller, keyID: String,
        registry: NodeRegistry, metrics: HubMetrics? = nil, budgets: Budgets, now: ContinuousClock.Instant = .now,
        stillAuthorized: (@Sendable () async throws(APIError) -> Void)? = nil
    ) {
        self.stillAuthorized = stillAuthorized
        self.kind = kind
        self.model = model
        self.body = body
        self.requestID = requestID
        self.caller = caller
        self.keyID = keyID
        self.registry = registry
        self.metrics = metrics
        self.loadDeadline = now + budgets.warmup
        self.queueDeadline = now + budgets.queue
    }

    /// Whether the request is with its node, waiting for the first event.
    var isSent: Bool {
        if case .sent = step { return true }
        return false
    }

    /// Goes on routing until the node's first event (the dispatch, whose ``InferenceDispatch/next()``
    /// returns it first) or until `pause` (nil: no pause), then returns nil and keeps its place.
    /// Throws what the client should see when routing ends without a node; nothing is held then.
    func advance(until pause: ContinuousClock.Instant?) async throws(APIError) -> InferenceDispatch? {
        do throws(APIError) {
            while true {
                switch step {
                case .route:
                    try await route()
                case .load(let generation, let since):
                    guard try await waitForLoad(after: generation, since: since, until: pause) else { return nil }
                case .queue(let ticket, let since):
                    guard try await waitForSlot(ticket, since: since, until: pause) else { return nil }
                case .sent(let dispatch):
                    if let dispatch = try await firstEvent(of: dispatch, until: pause) { return dispatch }
                    if case .sent = step { return nil }
                case .over:
                    throw APIError.noAvailableNode("No node could serve '\(model.id)'.")
                }
            }
        } catch {
            step = .over
            // No other node for a retry: the client learns what went wrong on the one that failed.
            if let lastFailure, error.code == "no_available_node" { throw lastFailure }
            throw error
        }
    }

    /// Lets go of whatever the request holds (the client left before its node answered): the
    /// place in the queue, a slot granted meanwhile, the request sent to a node.
    func abandon() async {
        let held = step
        step = .over
        switch held {
        case .queue(let ticket, let since):
            metrics?.waited("queue", model: model.id, .now - since)
            if case .granted(let connection)? = await registry.slots.leave(ticket) { await registry.release(connection, model: model.id) }
        case .load(_, let since):
            metrics?.waited("warmup", model: model.id, .now - since)
        case .sent(let dispatch):
            await dispatch.close()
        case .route, .over:
            break
        }
    }

    /// Waits for the model's load to change after `generation`, until `pause` or the warm-up
    /// budget; false at the pause. Not inlined, like ``waitForSlot``: an idle stream holds the
    /// frame of ``advance(until:)`` as it waits for the first event, so it should hold little.
    @inline(never)
    private func waitForLoad(after generation: Int, since: ContinuousClock.Instant, until pause: ContinuousClock.Instant?) async throws(APIError) -> Bool {
        let limit = pause.map { min($0, loadDeadline) } ?? loadDeadline
        let outcome = await registry.signal.wait(for: model.id, after: generation, within: max(.zero, limit - .now))
        if case .expired = outcome, limit < loadDeadline { return false }
        metrics?.waited("warmup", model: model.id, .now - since)
        step = .route
        switch outcome {
        case .changed: return true
        case .failed(let error): throw error
        case .cancelled: throw .clientClosed
        case .expired: throw .modelWarming(model.id, retryAfter: await registry.retryAfter(loading: model.id))
        }
    }

    /// Waits in the model's queue, until `pause` or the queue budget; false at the pause.
    @inline(never)
    private func waitForSlot(_ ticket: SlotQueue.Ticket, since: ContinuousClock.Instant, until pause: ContinuousClock.Instant?) async throws(APIError) -> Bool {
        let limit = pause.map { min($0, queueDeadline) } ?? queueDeadline
        var outcome = await registry.slots.wait(ticket, within: max(.zero, limit - .now))
        if outcome == nil {
            if limit < queueDeadline && !Task.isCancelled { return false }
            // Out of budget: a slot granted at that very moment is still taken, not leaked.
            outcome = await registry.slots.leave(ticket)
        }
        metrics?.waited("queue", model: model.id, .now - since)
        step = .route
        switch outcome {
        case .granted(let connection)?:
            try await send(on: connection)
        case .reroute?:
            break
        case nil:
            if Task.isCancelled { throw .clientClosed }
            throw await queueBudgetSpent()
        }
        return true
    }

    /// `503 no_available_node` for a request whose queue budget ran out.
    private func queueBudgetSpent() async -> APIError {
        let waiting = registry.slots.depth(of: model.id)
        return .noAvailableNode(
            "Every node serving '\(model.id)' that this key may use stayed busy for the request's queue budget (\(waiting) still waiting). Retry shortly.",
            retryAfter: await registry.queueRetryAfter(model.id))
    }

    /// Asks the registry for a node; sends the loads and unloads the planner decides.
    private func route() async throws(APIError) {
        let admission = try await registry.admit(model, for: caller, isNew: isNew, excluding: failed)
        isNew = false
        switch admission {
        case .dispatch(let connection):
            try await send(on: connection)
        case .wait(let generation, let commands):
            for command in commands { try? await command.connection.send(command.frame) }
            if !commands.isEmpty {
                loadsStarted += 1
                guard loadsStarted <= Self.maximumLoads else {
                    throw .noAvailableNode("'\(model.id)' failed to load on \(Self.maximumLoads) nodes in a row; retry shortly.", retryAfter: 5)
                }
            }
            step = .load(generation: generation, since: .now)
            waited = true
        case .queue(let generation):
            guard queueDeadline > .now else { throw await queueBudgetSpent() }
            guard let ticket = registry.slots.enqueue(for: model.id, after: generation, key: keyID, caller: caller, now: .now) else { return }
            step = .queue(ticket, since: .now)
            waited = true
        }
    }

    /// Sends the request on `connection`, where a slot is taken for it; a node that cannot take
    /// it is a failure of that node.
    private func send(on connection: NodeConnection) async throws(APIError) {
        guard !Task.isCancelled else {
            // The client is gone: the node is not asked at all.
            await registry.release(connection, model: model.id)
            throw .clientClosed
        }
        if waited, let stillAuthorized {
            do throws(APIError) {
                try await stillAuthorized()
            } catch {
                await registry.release(connection, model: model.id)
                throw error
            }
        }
        let infer = TunnelMessage.Infer(id: requestID, kind: kind, model: model.id, body: body, capabilities: model.capabilities, ctx: model.ctx)
        do {
            let sent = ContinuousClock.now
            let events = try await connection.start(infer, now: sent)
            step = .sent(
                InferenceDispatch(
                    connection: connection, model: model.id, requestID: requestID, attempts: attempt, sent: sent, registry: registry, events: events))
        } catch {
            await registry.release(connection, model: model.id)
            try await failOver(from: connection, error)
        }
    }

    /// The dispatch once its first event is in; nil at `pause`, or when the node failed and the
    /// request goes on to another.
    private func firstEvent(of dispatch: InferenceDispatch, until pause: ContinuousClock.Instant?) async throws(APIError) -> InferenceDispatch? {
        do {
            guard try await dispatch.readFirstEvent(until: pause) else { return nil }
            step = .over
            if registry.hasFailures { await registry.recordSuccess(of: model.id, on: dispatch.connection) }
            return dispatch
        } catch where error.status >= 500 {
            await dispatch.close()
            try await failOver(from: dispatch.connection, error)
            return nil
        } catch {
            // A client mistake: the node answered, and is healthy.
            step = .over
            await dispatch.close()
            await registry.recordSuccess(of: model.id, on: dispatch.connection)
            throw error
        }
    }

    /// Counts `error` against `connection`'s node and routes again without it, if attempts are left.
    private func failOver(from connection: NodeConnection, _ error: APIError) async throws(APIError) {
        await registry.recordFailure(of: model.id, on: connection)
        failed.insert(connection.node.id)
        lastFailure = error
        attempt += 1
        loadsStarted = 0  // each attempt may start its own loads
        guard attempt <= Self.maximumAttempts else { throw error }
        step = .route
    }
}

extension APIError {
    /// What a request whose client left before a node took it is metered as (nginx's 499); no
    /// client reads it.
    static let clientClosed = APIError(
        status: 499, message: "The client closed the request before a node took it.", type: "invalid_request_error", code: "client_closed")
}
