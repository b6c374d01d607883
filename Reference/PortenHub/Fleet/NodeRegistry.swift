import NodeProtocol
import OpenAIWire
import Synchronization

/// The connected fleet: each node's tunnel, slots and models, the demand per model, and the
/// loads under way. It asks ``Planner`` what to do and applies the answer to its state; the
/// frames that answer needs are returned to the caller to send (no I/O inside the actor).
public actor NodeRegistry {
    private struct Entry {
        var connection: NodeConnection
        var node: FleetNode
        /// Loads under way on the node, by model.
        var loads: [String: LoadProgress] = [:]
        /// The catalog models the node's hello listed: a fixed node may announce only these as
        /// `loaded`; any other model becomes ready only through a load the Hub asked for.
        var declared: Set<String> = []
    }

    /// What a request should do next.
    enum Admission {
        /// A slot is taken on this node; run the request there and release it afterwards.
        case dispatch(NodeConnection)
        /// Send `commands` (unloads, then a load; maybe none), then wait for a change of the
        /// model's load after `generation` and route again.
        case wait(generation: Int, commands: [Command])
        /// Every compliant node serving the model is busy: wait in its admission queue unless its
        /// slots changed after `generation`.
        case queue(generation: Int)
    }

    /// A frame for a node, decided inside the registry and sent outside it.
    struct Command {
        var connection: NodeConnection
        var frame: TunnelMessage
    }

    let catalog: Catalog
    /// Load, failure and eviction counts (nil in tests that do not look).
    let metrics: HubMetrics?
    let signal = LoadSignal()
    /// Requests waiting for a slot (docs/planner.md, "Admission queue").
    let slots = SlotQueue()
    /// Requests that may wait in one model's queue; past it, `503` at once.
    let maximumQueueLength: Int
    /// Queueing this long on a model loads a replica on another provisionable node; nil: never.
    let replicaAfter: Duration?
    private var entries: [String: Entry] = [:]
    private var demand: DemandLedger
    /// Requests that ended, per model, over the last minute: the service rate behind a queue's `Retry-After`.
    private var completions = DemandLedger(window: .seconds(60))
    /// Nodes failing a model, by node and model (outlier ejection).
    private var health: [NodeModel: OutlierState] = [:] {
        didSet { failingPairs.store(health.count, ordering: .relaxed) }
    }
    /// How many node–model pairs have failures on record, readable without the actor: a request
    /// that succeeded skips ``recordSuccess(of:on:)`` (an actor hop) when there are none.
    private nonisolated let failingPairs = Atomic(0)
    nonisolated var hasFailures: Bool { failingPairs.load(ordering: .relaxed) > 0 }
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(
        catalog: Catalog, demandWindow: Duration = .seconds(600), maximumQueueLength: Int = 1000, replicaAfter: Duration? = .seconds(5),
        metrics: HubMetrics? = nil, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.catalog = catalog
        self.metrics = metrics
        self.maximumQueueLength = maximumQueueLength
        self.replicaAfter = replicaAfter
        self.demand = DemandLedger(window: demandWindow)
        self.now = now
    }

    public var demandWindow: Duration { demand.window }

    // MARK: Connections

    /// What ``register(_:unless:)`` did.
    enum Registration {
        /// Registered, replacing this earlier connection of the node, if any.
        case registered(replacing: NodeConnection?)
        /// Not registered: the node's record changed.
        case refused
    }

    /// Adds `connection` unless `isStale()` says its node's record changed since it was read.
    func register(_ connection: NodeConnection, unless isStale: @Sendable () -> Bool) -> Registration {
        guard !isStale() else { return .refused }
        return .registered(replacing: register(connection))
    }

    /// Adds a connection with the models its hello says are ready or on disk (catalog models only);
    /// returns the connection it replaces (the same node connected again).
    func register(_ connection: NodeConnection) -> NodeConnection? {
        let hello = connection.hello
        let offered = hello.models.filter { catalog.offered($0.id) != nil }
        let time = now()
        let record = connection.node
        var node = FleetNode(
            id: record.id, provisionable: hello.provisionable, vramBudgetMB: hello.vramMB, concurrency: hello.concurrency, owner: record.accountID,
            region: record.region, trustClass: TrustClass(rawValue: record.trustClass) ?? .community)
        for model in offered where model.state == .ready {
            node.models[model.id] = HostedModel(vramMB: vram(of: model.id), ready: true, lastUsed: time)
        }
        node.onDisk = Set(offered.filter { $0.state == .onDisk }.map(\.id))
        let previous = entries[connection.node.id]
        entries[connection.node.id] = Entry(connection: connection, node: node, declared: Set(offered.map(\.id)))
        if let previous { abandon(previous) }
        for model in node.models.keys { handOff(model) }
        return previous?.connection
    }

    /// Removes `connection` unless a newer connection of the same node has replaced it; requests
    /// waiting for a load on it route again.
    func unregister(_ connection: NodeConnection) {
        guard let entry = entries[connection.node.id], entry.connection === connection else { return }
        entries[connection.node.id] = nil
        abandon(entry)
        forgetSettledFailures(of: connection.node.id)
    }

    /// Drops the failures on record for a node that left, except an ejection still running (a
    /// node cannot escape one by reconnecting); what stays would otherwise stay for good.
    private func forgetSettledFailures(of nodeID: String) {
        let time = now()
        health = health.filter { $0.key.node != nodeID || $0.value.isEjected(at: time) }
    }

    /// Removes node `nodeID` whatever connection it has (revoked, account disabled, attributes
    /// changed); returns that connection for the caller to close.
    func disconnect(nodeID: String) -> NodeConnection? {
        guard let entry = entries.removeValue(forKey: nodeID) else { return nil }
        abandon(entry)
        return entry.connection
    }

    /// A node left: requests waiting for its loads, or queued for its models, route again.
    private func abandon(_ entry: Entry) {
        for model in entry.loads.keys { signal.signal(model, .changed) }
        for model in entry.node.models.keys { slots.rerouteAll(model) }
    }

    // MARK: Requests

    /// Routes one request for `model` from `caller`, on the nodes its key's policy admits only.
    /// `isNew` counts it as demand (not again when it re-routes).
    /// Nodes in `excluding` (they failed this request) and nodes ejected for the model are not considered.
    func admit(_ model: CatalogModel, for caller: PolicyRouting.Caller, isNew: Bool, excluding failed: Set<String> = []) throws(APIError)
        -> Admission
    {
        let time = now()
        if isNew { demand.record(model.id, at: time) }
        // Free slots go to those already waiting first; a newcomer takes only what none of them may use.
        handOff(model.id)
        let generation = signal.generation(of: model.id)
        let slotGeneration = slots.generation(of: model.id)
        let nodes = entries.values.map(\.node).filter { !failed.contains($0.id) && !isEjected($0.id, model: model.id, at: time) }
        let decision: PolicyRouting.Route
        do {
            let queued = replicaAfter == nil ? nil : slots.pressure(of: model.id, now: time)
            let pressure = queued.map { Planner.QueuePressure(depth: $0.depth, longestWait: $0.longestWait, replicaAfter: replicaAfter) } ?? .none
            decision = try PolicyRouting.decide(model: model, for: caller, nodes: nodes, pressure: pressure) { demand.demand(for: $0, now: time) }
        } catch where error.code == "no_available_node" {
            throw ejectionRefusal(model.id, for: caller, at: time) ?? error
        }
        switch decision {
        case .dispatch(let nodeID):
            take(nodeID, model: model.id, at: time)
            return .dispatch(entries[nodeID]!.connection)
        case .awaitLoad:
            return .wait(generation: generation, commands: [])
        case .saturated:
            let depth = slots.depth(of: model.id)
            guard depth < maximumQueueLength else {
                throw .noAvailableNode(
                    "Every node serving '\(model.id)' that this key may use is busy and \(depth) requests are already waiting. Retry shortly.",
                    retryAfter: queueRetryAfter(model.id))
            }
            return .queue(generation: slotGeneration)
        case .load(let nodeID, let evicting):
            return .wait(generation: generation, commands: startLoad(model, on: nodeID, evicting: evicting, at: time))
        }
    }

    /// Marks `model` loading on `nodeID` after unloading `evicting`; the frames to send, in order.
    private func startLoad(_ model: CatalogModel, on nodeID: String, evicting: [String], at time: ContinuousClock.Instant) -> [Command] {
        var entry = entries[nodeID]!
        var commands = evicting.map { Command(connection: entry.connection, frame: .unload(.init(model: $0))) }
        metrics?.loadStarted(model.id)
        for evicted in evicting {
            metrics?.evicted(evicted, reason: "demand")
            entry.node.models[evicted] = nil
            entry.node.onDisk.insert(evicted)
        }
        entry.node.models[model.id] = HostedModel(vramMB: model.vramMB, ready: false, lastUsed: time)
        entry.loads[model.id] = LoadProgress(totalMB: model.diskMB, phaseStartedAt: time, lastHeardAt: time)
        entries[nodeID] = entry
        commands.append(
            Command(
                connection: entry.connection,
                frame: .load(
                    .init(
                        model: model.id, downloadRef: model.downloadRef, sha256: model.sha256, diskMB: model.diskMB, vramMB: model.vramMB,
                        modelType: model.type.rawValue, ctx: model.ctx))))
        return commands
    }

    /// Replicas for sustained queueing: every model whose admission queue has held a request for
    /// ``replicaAfter`` gets a replica where the planner places one for its longest-waiting
    /// request's policy (docs/planner.md); the frames to send. The queued requests take the new
    /// replica's slots as soon as it is ready.
    func replicate() -> [Command] {
        guard let replicaAfter else { return [] }
        let time = now()
        var commands: [Command] = []
        for id in slots.waitingModels.sorted() {
            guard let queued = slots.pressure(of: id, now: time), let model = catalog.offered(id) else { continue }
            let pressure = Planner.QueuePressure(depth: queued.depth, longestWait: queued.longestWait, replicaAfter: replicaAfter)
            guard pressure.isSustained else { continue }
            let caller = queued.oldest
            let nodes = entries.values.map(\.node).filter { !isEjected($0.id, model: id, at: time) }
            let decision = PolicyRouting.route(model: id, vramMB: model.vramMB, for: caller, nodes: nodes, pressure: pressure) {
                demand.demand(for: $0, now: time)
            }
            if case .load(let nodeID, let evicting) = decision {
                metrics?.replicaStarted(id)
                commands += startLoad(model, on: nodeID, evicting: evicting, at: time)
            }
        }
        return commands
    }

    /// Gives back the slot a dispatched request held; it goes to the next request queued for it.
    func release(_ connection: NodeConnection, model: String) {
        let time = now()
        completions.record(model, at: time)
        guard entries[connection.node.id]?.connection === connection else { return }
        entries[connection.node.id]!.node.inFlight -= 1
        entries[connection.node.id]!.node.models[model]?.inFlight -= 1
        entries[connection.node.id]!.node.models[model]?.lastUsed = time
        slots.bump(model)
        // The freed slot may serve another model the node has ready, too.
        let hosted = entries[connection.node.id]!.node.models
        for waiting in slots.waitingModels where hosted[waiting] != nil { handOff(waiting) }
    }

    /// Gives free slots on nodes with `model` ready to the requests queued for it, in fair order,
    /// each to a request whose key may use that node.
    private func handOff(_ model: String) {
        guard slots.depth(of: model) > 0 else { return }
        let time = now()
        let candidates = entries.values.filter { $0.node.models[model]?.ready == true && !isEjected($0.node.id, model: model, at: time) }
            .map(\.node.id).sorted()
        for nodeID in candidates {
            while let node = entries[nodeID]?.node, node.hasFreeSlot {
                guard let waiter = slots.next(for: model, where: { $0.caller.mayUse(node) }) else { break }
                take(nodeID, model: model, at: time)
                waiter.resume(.granted(entries[nodeID]!.connection))
            }
        }
    }

    // MARK: Outlier ejection

    /// Counts a failure of `connection`'s node on `model` before it answered anything. After
    /// ``OutlierState/threshold`` failures in a row the node gets no `model` traffic for a back-off
    /// that doubles each time (1 s … 60 s); then one request probes it.
    func recordFailure(of model: String, on connection: NodeConnection) {
        health[NodeModel(node: connection.node.id, model: model), default: OutlierState()].fail(at: now())
    }

    /// A node answered `model`: its failures are forgotten.
    func recordSuccess(of model: String, on connection: NodeConnection) {
        health[NodeModel(node: connection.node.id, model: model)] = nil
    }

    /// The refusal when the only nodes `caller` may use for `model` are out of rotation for it.
    private func ejectionRefusal(_ model: String, for caller: PolicyRouting.Caller, at time: ContinuousClock.Instant) -> APIError? {
        let ejected = entries.values.filter { caller.mayUse($0.node) && $0.node.models[model] != nil }
            .compactMap { health[NodeModel(node: $0.node.id, model: model)]?.ejectedUntil }.filter { $0 > time }
        guard let soonest = ejected.min() else { return nil }
        let seconds = max(1, Int(((soonest - time) / .seconds(1)).rounded(.up)))
        return .noAvailableNode(
            "The nodes this key may use for '\(model)' failed it repeatedly and are out of rotation for about \(seconds) s. Retry then.",
            retryAfter: seconds)
    }

    private func isEjected(_ nodeID: String, model: String, at time: ContinuousClock.Instant) -> Bool {
        health[NodeModel(node: nodeID, model: model)]?.isEjected(at: time) ?? false
    }

    /// Counts a request on `nodeID` for `model`.
    private func take(_ nodeID: String, model: String, at time: ContinuousClock.Instant) {
        entries[nodeID]!.node.inFlight += 1
        entries[nodeID]!.node.models[model]!.inFlight += 1
        entries[nodeID]!.node.models[model]!.lastUsed = time
    }

    /// The `Retry-After` for a request leaving `model`'s queue: the requests ahead of it over the
    /// rate requests of the model ended at in the last minute; 1…60 s.
    func queueRetryAfter(_ model: String) -> Int {
        let perSecond = Double(completions.demand(for: model, now: now())) / 60
        guard perSecond > 0 else { return 5 }
        return Int(min(60, max(1, (Double(slots.depth(of: model) + 1) / perSecond).rounded(.up))))
    }

    /// The `Retry-After` for a request that stops waiting for `model` now.
    func retryAfter(loading model: String) -> Int {
        let time = now()
        return entries.values.compactMap { $0.loads[model]?.secondsRemaining(now: time) }.min() ?? 5
    }

    // MARK: Node frames about loads

    /// Applies a `progress`, `loaded`, `unloaded` or `load_failed` frame from `connection`.
    func apply(_ frame: TunnelMessage, from connection: NodeConnection) {
        let nodeID = connection.node.id
        guard entries[nodeID]?.connection === connection else { return }
        let time = now()
        switch frame {
        case .progress(let progress):
            entries[nodeID]!.loads[progress.model]?.update(progress, now: time)
        case .loaded(let loaded):
            // Only a load the Hub asked for, or a model a fixed node declared in its hello: a node
            // cannot draw a model's traffic by announcing it.
            let entry = entries[nodeID]!
            guard catalog.offered(loaded.model) != nil,
                entry.loads[loaded.model] != nil || entry.node.models[loaded.model] != nil
                    || (!entry.node.provisionable && entry.declared.contains(loaded.model))
            else { return }
            if let load = entries[nodeID]!.loads[loaded.model] { metrics?.loadFinished(loaded.model, after: time - load.startedAt) }
            entries[nodeID]!.loads[loaded.model] = nil
            entries[nodeID]!.node.models[loaded.model] = HostedModel(
                vramMB: vram(of: loaded.model), ready: true, inFlight: entries[nodeID]!.node.models[loaded.model]?.inFlight ?? 0,
                lastUsed: time)
            entries[nodeID]!.node.onDisk.insert(loaded.model)
            signal.signal(loaded.model, .changed)
            handOff(loaded.model)
        case .unloaded(let unloaded):
            if entries[nodeID]!.node.models[unloaded.model]?.ready == true {
                entries[nodeID]!.node.models[unloaded.model] = nil
                slots.rerouteAll(unloaded.model)
            }
            entries[nodeID]!.node.onDisk.insert(unloaded.model)
        case .loadFailed(let failure):
            guard entries[nodeID]!.loads.removeValue(forKey: failure.model) != nil else { return }
            metrics?.loadFailed(failure.model)
            entries[nodeID]!.node.models[failure.model] = nil
            signal.signal(failure.model, .failed(.nodeError("Loading '\(failure.model)' on a node failed: \(failure.message)")))
        default:
            break
        }
    }

    // MARK: Housekeeping

    /// Unloads models idle for a whole demand window; returns the `unload` frames to send.
    func evictIdle() -> [Command] {
        let time = now()
        demand.prune(now: time)
        completions.prune(now: time)
        return Planner.idleEvictions(nodes: entries.values.map(\.node), now: time, window: demand.window).map { eviction in
            metrics?.evicted(eviction.model, reason: "idle")
            entries[eviction.nodeID]!.node.models[eviction.model] = nil
            entries[eviction.nodeID]!.node.onDisk.insert(eviction.model)
            return Command(connection: entries[eviction.nodeID]!.connection, frame: .unload(.init(model: eviction.model)))
        }
    }

    /// Fails loads a node has said nothing about for `timeout`; returns `unload` frames for them.
    func expireLoads(silentFor timeout: Duration) -> [Command] {
        let time = now()
        var commands: [Command] = []
        for (nodeID, entry) in entries {
            for (model, load) in entry.loads where time - load.lastHeardAt >= timeout {
                entries[nodeID]!.loads[model] = nil
                entries[nodeID]!.node.models[model] = nil
                metrics?.loadFailed(model)
                commands.append(Command(connection: entry.connection, frame: .unload(.init(model: model))))
                signal.signal(model, .failed(.nodeError("Loading '\(model)' stalled: the node sent no progress for \(timeout).")))
            }
        }
        return commands
    }

    // MARK: Views

    /// Models at least one connected node has ready.
    public func readyModels() -> Set<String> {
        entries.values.reduce(into: Set<String>()) { ready, entry in
            ready.formUnion(entry.node.models.filter(\.value.ready).keys)
        }
    }

    /// How far `model` is from being served: ready somewhere, loading (the most advanced load), or cold.
    public func warming(_ model: String) -> WarmingStatus {
        if readyModels().contains(model) { return .ready(model, totalMB: catalog.offered(model)?.diskMB ?? 0) }
        let loads = entries.values.compactMap { $0.loads[model] }
        guard let load = loads.max(by: { ($0.phase == .loading ? 1 : 0, $0.percent) < ($1.phase == .loading ? 1 : 0, $1.percent) }) else {
            return .cold(model, totalMB: catalog.offered(model)?.diskMB ?? 0)
        }
        return WarmingStatus(model: model, ready: false, phase: load.phase.rawValue, doneMB: load.doneMB, totalMB: load.totalMB, pct: load.percent)
    }

    /// The status of every model that is ready or loading on a node here (for the other replicas).
    func warmingModels() -> [String: WarmingStatus] {
        let present = entries.values.reduce(into: Set<String>()) { $0.formUnion($1.node.models.keys) }
        return Dictionary(uniqueKeysWithValues: present.map { ($0, warming($0)) })
    }

    /// Each connected node's planner view, and the demand per model, for operators.
    public func snapshot() -> (
        nodes: [FleetNode], loads: [String: [String: LoadProgress]], demand: [String: Int],
        queues: [String: (depth: Int, longestWait: Duration)], ejected: [String: [String: Duration]]
    ) {
        let time = now()
        var ejected: [String: [String: Duration]] = [:]
        for (key, state) in health {
            if let until = state.ejectedUntil, until > time { ejected[key.node, default: [:]][key.model] = until - time }
        }
        return (
            entries.values.map(\.node).sorted { $0.id < $1.id }, entries.mapValues(\.loads).filter { !$0.value.isEmpty },
            demand.snapshot(now: time), slots.snapshot(now: time), ejected
        )
    }

    /// The connected nodes as the planner sees them, for the other replicas (``ReplicaDirectory``).
    func fleetNodes() -> [FleetNode] { entries.values.map(\.node).sorted { $0.id < $1.id } }

    /// What the planner would do here with a request for `model` from `caller`, without doing it:
    /// ``Planner/RouteDecision/unplaceable`` sends it to another replica if one can take it, and
    /// ``Planner/RouteDecision/load`` (nobody here has it, ready or loading) to a replica that has
    /// it warm, so a cold model is loaded once across replicas (``ReplicaForward``).
    func localRoute(_ model: CatalogModel, for caller: PolicyRouting.Caller) -> Planner.RouteDecision {
        let time = now()
        let nodes = entries.values.map(\.node).filter { !isEjected($0.id, model: model.id, at: time) }
        return PolicyRouting.route(model: model.id, vramMB: model.vramMB, for: caller, nodes: nodes, demand: { _ in 0 })
    }

    func connection(nodeID: String) -> NodeConnection? { entries[nodeID]?.connection }

    func connections() -> [NodeConnection] { entries.values.map(\.connection) }

    /// Ids of the connected nodes.
    public func connectedNodeIDs() -> Set<String> { Set(entries.keys) }

    public func inFlight(nodeID: String) -> Int { entries[nodeID]?.node.inFlight ?? 0 }

    private func vram(of model: String) -> Int { catalog.offered(model)?.vramMB ?? 0 }
}
