import OpenAIWire

/// Routing under a key's policy: the planner only ever sees the nodes the policy admits, so a
/// request is never dispatched to, nor makes load, a node outside it; and when that leaves no
/// node, the refusal names the constraint (fail-closed, no fall-back).
public enum PolicyRouting {
    /// Who is asking: the key's account and policy.
    public struct Caller: Sendable, Equatable {
        public var account: String
        public var policy: KeyPolicy
        public init(account: String, policy: KeyPolicy) {
            self.account = account
            self.policy = policy
        }

        /// Whether the key's policy admits `node` (owner, region, trust class).
        public func mayUse(_ node: FleetNode) -> Bool {
            policy.admits(owner: node.owner, region: node.region, trustClass: node.trustClass, keyAccount: account)
        }
    }

    /// The nodes `caller` may use.
    public static func compliant(_ nodes: [FleetNode], for caller: Caller) -> [FleetNode] {
        nodes.filter(caller.mayUse)
    }

    /// The planner's decision for `model` on the compliant nodes only.
    public static func route(
        model: String, vramMB: Int, for caller: Caller, nodes: [FleetNode], pressure: Planner.QueuePressure = .none, demand: (String) -> Int
    ) -> Planner.RouteDecision {
        Planner.route(model: model, vramMB: vramMB, nodes: compliant(nodes, for: caller), pressure: pressure, demand: demand)
    }

    /// The whole routing decision for a request of `caller`: `403 model_not_allowed` outside the
    /// key's allow-list; the planner's choice among the compliant nodes (``Route/saturated`` when
    /// they are all busy: the request queues); `503 no_available_node` when none can serve the
    /// model. Never a node the policy excludes.
    public static func decide(
        model: CatalogModel, for caller: Caller, nodes: [FleetNode], pressure: Planner.QueuePressure = .none, demand: (String) -> Int
    ) throws(APIError) -> Route {
        guard caller.policy.allowsModel(model.id) else { throw .modelNotAllowed(model.id) }
        switch route(model: model.id, vramMB: model.vramMB, for: caller, nodes: nodes, pressure: pressure, demand: demand) {
        case .dispatch(let nodeID): return .dispatch(nodeID: nodeID)
        case .awaitLoad(let nodeID): return .awaitLoad(nodeID: nodeID)
        case .load(let nodeID, let evicting): return .load(nodeID: nodeID, evicting: evicting)
        case .saturated: return .saturated
        case .unplaceable: throw refusal(model: model.id, vramMB: model.vramMB, for: caller, nodes: nodes)
        }
    }

    /// Where a routed request goes: a node, or the model's admission queue.
    public enum Route: Sendable, Equatable {
        case dispatch(nodeID: String)
        case awaitLoad(nodeID: String)
        case load(nodeID: String, evicting: [String])
        /// Every compliant node serving the model is at its concurrency.
        case saturated

        /// The node the request goes to or waits on; nil when it queues.
        public var nodeID: String? {
            switch self {
            case .dispatch(let id), .awaitLoad(let id), .load(let id, _): id
            case .saturated: nil
            }
        }
    }

    /// The `503 no_available_node` for an unplaceable request: it names the first policy
    /// constraint that left no node able to serve the model, or says no node can.
    public static func refusal(model: String, vramMB: Int, for caller: Caller, nodes: [FleetNode]) -> APIError {
        var remaining = nodes.filter { $0.couldServe(model, vramMB: vramMB) }
        guard !remaining.isEmpty else {
            return .noAvailableNode(
                "No node is serving '\(model)' and none can load it right now (no provisionable node with room). Retry later.", retryAfter: 5)
        }
        for constraint in [KeyPolicy.Constraint.ownNodes, .region, .trustClass] {
            remaining.removeAll {
                caller.policy.firstViolation(owner: $0.owner, region: $0.region, trustClass: $0.trustClass, keyAccount: caller.account) == constraint
            }
            if remaining.isEmpty {
                return .noAvailableNode(
                    "No node this key may use can serve '\(model)' right now: \(caller.policy.describe(constraint)). The request was not routed anywhere else.",
                    retryAfter: 5)
            }
        }
        return .noAvailableNode("No node this key may use can serve '\(model)' right now (the nodes it may use have no room). Retry later.", retryAfter: 5)
    }
}
