/// What an API key may do, stored on the key and enforced at routing time (fail-closed).
public struct KeyPolicy: Sendable, Equatable {
    /// Regions whose nodes may serve the key; nil: any region.
    public var allowedRegions: [String]?
    /// The lowest trust class of node that may serve the key; nil: any.
    public var minTrustClass: TrustClass?
    /// Route only to nodes of the key's own account.
    public var ownNodesOnly: Bool
    /// The models the key may use; nil: every offered model.
    public var modelAllowlist: [String]?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?

    public init(
        allowedRegions: [String]? = nil, minTrustClass: TrustClass? = nil, ownNodesOnly: Bool = false, modelAllowlist: [String]? = nil,
        requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil
    ) {
        self.allowedRegions = allowedRegions
        self.minTrustClass = minTrustClass
        self.ownNodesOnly = ownNodesOnly
        self.modelAllowlist = modelAllowlist
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
    }

    public static let unrestricted = KeyPolicy()

    /// Whether the key may use `model` at all.
    public func allowsModel(_ model: String) -> Bool {
        modelAllowlist.map { $0.contains(model) } ?? true
    }

    /// Whether a node of `owner`, in `region`, of `trustClass` may serve a key of `account`.
    public func admits(owner: String, region: String, trustClass: TrustClass, keyAccount: String) -> Bool {
        firstViolation(owner: owner, region: region, trustClass: trustClass, keyAccount: keyAccount) == nil
    }

    /// The constraints of a policy, in the order refusals name them.
    public enum Constraint: Sendable, Equatable {
        case ownNodes, region, trustClass
    }

    /// The first constraint the node breaks, or nil when it may serve the key.
    public func firstViolation(owner: String, region: String, trustClass: TrustClass, keyAccount: String) -> Constraint? {
        if ownNodesOnly, owner != keyAccount { return .ownNodes }
        if let allowedRegions, !allowedRegions.contains(region) { return .region }
        if let minTrustClass, trustClass < minTrustClass { return .trustClass }
        return nil
    }

    /// The refusal's wording for `constraint`: what the key asks, never which nodes exist elsewhere.
    public func describe(_ constraint: Constraint) -> String {
        switch constraint {
        case .ownNodes: "this key is limited to its own account's nodes"
        case .region: "this key is limited to region\(allowedRegions?.count == 1 ? "" : "s") \((allowedRegions ?? []).joined(separator: ", "))"
        case .trustClass: "this key needs nodes of trust class \(minTrustClass?.rawValue ?? "") or higher"
        }
    }
}
