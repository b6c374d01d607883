/// A connected node as the planner sees it: its budgets, its slots and the models on it.
public struct FleetNode: Sendable, Equatable {
    public var id: String
    /// Whether the Hub may load and unload models on it (builtin, sim with a VRAM budget).
    public var provisionable: Bool
    /// VRAM the node may fill with models; nil when it did not say (it cannot be provisioned then).
    public var vramBudgetMB: Int?
    public var concurrency: Int
    /// Requests running on the node, all models together.
    public var inFlight: Int
    /// Models loaded or loading on the node, by id.
    public var models: [String: HostedModel]
    /// Models whose weights are cached on the node's disk but not loaded.
    public var onDisk: Set<String>
    /// The account that owns the node, and the operator-assigned region and trust class.
    public var owner: String
    public var region: String
    public var trustClass: TrustClass

    public init(
        id: String, provisionable: Bool, vramBudgetMB: Int?, concurrency: Int, inFlight: Int = 0, models: [String: HostedModel] = [:],
        onDisk: Set<String> = [], owner: String = "", region: String = "", trustClass: TrustClass = .community
    ) {
        self.owner = owner
        self.region = region
        self.trustClass = trustClass
        self.id = id
        self.provisionable = provisionable
        self.vramBudgetMB = vramBudgetMB
        self.concurrency = concurrency
        self.inFlight = inFlight
        self.models = models
        self.onDisk = onDisk
    }

    /// VRAM taken by the models loaded or loading.
    public var usedVRAM: Int { models.values.reduce(0) { $0 + $1.vramMB } }

    public var hasFreeSlot: Bool { inFlight < concurrency }

    /// Whether the node has `model`, or could load it by unloading idle models (demand aside).
    public func couldServe(_ model: String, vramMB: Int) -> Bool {
        models[model] != nil || Planner.placement(on: self, vramMB: vramMB, notAbove: .max, demand: { _ in 0 }) != nil
    }
}

/// One model on one node.
public struct HostedModel: Sendable, Equatable {
    public var vramMB: Int
    /// False while the node is loading it.
    public var ready: Bool
    /// Requests for this model running on this node.
    public var inFlight: Int
    /// When a request for it last started or ended, or when it became ready.
    public var lastUsed: ContinuousClock.Instant

    public init(vramMB: Int, ready: Bool, inFlight: Int = 0, lastUsed: ContinuousClock.Instant) {
        self.vramMB = vramMB
        self.ready = ready
        self.inFlight = inFlight
        self.lastUsed = lastUsed
    }

    /// Whether the planner may unload it: ready and idle this instant.
    public var evictable: Bool { ready && inFlight == 0 }
}
