/// The routing and placement decisions of the Hub, as pure functions of the fleet, the demand
/// and the time. The registry applies what they decide (docs/planner.md has the state table).
public enum Planner {
    /// What to do with one request for a model.
    public enum RouteDecision: Sendable, Equatable {
        /// Send it to this node, which has the model ready and a free slot.
        case dispatch(nodeID: String)
        /// The model is ready but every node serving it is at its concurrency.
        case saturated
        /// The model is loading on this node; wait for it.
        case awaitLoad(nodeID: String)
        /// Tell this node to unload `evicting` (in order), then to load the model; then wait.
        case load(nodeID: String, evicting: [String])
        /// Nobody serves the model and no provisionable node can make room for it.
        case unplaceable
    }

    /// How long the model's admission queue has held requests, and from when that means it needs
    /// another replica.
    public struct QueuePressure: Sendable, Equatable {
        /// Requests waiting for a slot on the model's nodes.
        public var depth: Int
        /// How long the oldest of them has waited.
        public var longestWait: Duration
        /// Queueing this long is sustained: another replica is worth a load. Nil: never.
        public var replicaAfter: Duration?

        public init(depth: Int, longestWait: Duration, replicaAfter: Duration?) {
            self.depth = depth
            self.longestWait = longestWait
            self.replicaAfter = replicaAfter
        }

        public static let none = QueuePressure(depth: 0, longestWait: .zero, replicaAfter: nil)

        public var isSustained: Bool { replicaAfter.map { depth > 0 && longestWait >= $0 } ?? false }
    }

    /// Chooses where a request for `model` (needing `vramMB` when loaded) goes.
    ///
    /// - A ready node with a free slot wins, the one with the fewest requests in flight first.
    /// - Else a load under way is joined, so concurrent cold requests trigger one load (a replica
    ///   being loaded included).
    /// - Else, when every node serving it is busy: it queues (`saturated`), unless queueing is
    ///   sustained (`pressure`), in which case a provisionable node without the model loads a
    ///   replica, placed and evicting as for a cold model; with no such node it still queues.
    /// - Else a provisionable node loads it, evicting idle models whose demand is not higher than
    ///   the requested one's (which counts this request) if it must, lowest demand first. Among nodes the placement that evicts the
    ///   least demand wins, then one with the weights on disk, then fewer evictions, fewer
    ///   requests in flight, and the node id, so every tie is broken the same way.
    public static func route(
        model: String, vramMB: Int, nodes: [FleetNode], pressure: QueuePressure = .none, demand: (String) -> Int
    ) -> RouteDecision {
        let hosting = nodes.filter { $0.models[model] != nil }
        let ready = hosting.filter { $0.models[model]!.ready }
        if let best = ready.filter(\.hasFreeSlot).min(by: { ($0.inFlight, $0.id) < ($1.inFlight, $1.id) }) {
            return .dispatch(nodeID: best.id)
        }
        if let loading = hosting.filter({ !$0.models[model]!.ready }).min(by: { $0.id < $1.id }) {
            return .awaitLoad(nodeID: loading.id)
        }
        if !ready.isEmpty, !pressure.isSustained { return .saturated }
        let requestedDemand = demand(model)
        let placements = nodes.filter { $0.models[model] == nil }.compactMap { node in
            placement(on: node, vramMB: vramMB, notAbove: requestedDemand, demand: demand).map { (node, $0) }
        }
        let best = placements.min { lhs, rhs in
            let left = (lhs.1.evictedDemand, lhs.0.onDisk.contains(model) ? 0 : 1, lhs.1.evicting.count, lhs.0.inFlight)
            let right = (rhs.1.evictedDemand, rhs.0.onDisk.contains(model) ? 0 : 1, rhs.1.evicting.count, rhs.0.inFlight)
            return left != right ? left < right : lhs.0.id < rhs.0.id
        }
        guard let (node, plan) = best else { return ready.isEmpty ? .unplaceable : .saturated }
        return .load(nodeID: node.id, evicting: plan.evicting)
    }

    /// The models to unload so `vramMB` fits on `node`, or nil when it cannot fit there.
    static func placement(on node: FleetNode, vramMB: Int, notAbove requestedDemand: Int, demand: (String) -> Int)
        -> (evicting: [String], evictedDemand: Int)?
    {
        guard node.provisionable, let budget = node.vramBudgetMB, vramMB <= budget else { return nil }
        var missing = vramMB - (budget - node.usedVRAM)
        guard missing > 0 else { return ([], 0) }
        let candidates = node.models
            .filter { $0.value.evictable && demand($0.key) <= requestedDemand }
            .sorted { (demand($0.key), $0.value.lastUsed, $0.key) < (demand($1.key), $1.value.lastUsed, $1.key) }
        var evicting: [String] = []
        var evictedDemand = 0
        for (id, hosted) in candidates where missing > 0 {
            evicting.append(id)
            evictedDemand += demand(id)
            missing -= hosted.vramMB
        }
        return missing > 0 ? nil : (evicting, evictedDemand)
    }

    /// A model to unload because nobody asked for it for a whole window.
    public struct Eviction: Sendable, Equatable, Hashable {
        public var nodeID: String
        public var model: String
        public init(nodeID: String, model: String) {
            self.nodeID = nodeID
            self.model = model
        }
    }

    /// Models on provisionable nodes, ready and idle, last used at least `window` before `now`.
    /// Fixed nodes are never touched; neither are loads under way or models with requests in flight.
    public static func idleEvictions(nodes: [FleetNode], now: ContinuousClock.Instant, window: Duration) -> [Eviction] {
        nodes.filter(\.provisionable).flatMap { node in
            node.models.filter { $0.value.evictable && now - $0.value.lastUsed >= window }.keys.sorted()
                .map { Eviction(nodeID: node.id, model: $0) }
        }
    }
}
