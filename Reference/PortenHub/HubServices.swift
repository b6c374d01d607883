import Logging

/// What the Hub's controllers share: the store, the catalog, the connected fleet and metering.
/// A class: every controller, route closure and async frame that holds it holds one pointer, not
/// the whole configuration (a struct of 784 bytes was copied into each request's frames).
public final class HubServices: Sendable {
    public let configuration: HubConfiguration
    public let store: any HubStore
    /// The catalog as the operator has switched it.
    public let liveCatalog: LiveCatalog
    public let registry: NodeRegistry
    public let usage: UsageRecorder
    public let rateLimiter: RateLimiter
    public let metrics: HubMetrics
    /// The other replicas' nodes, with Redis and `--replica-token`; nil alone.
    public let replicas: ReplicaDirectory?
    public let logger: Logger
    /// Failed portal sign-ins per email and address.
    let signInThrottle = SignInThrottle()
    /// What running requests may still cost, per account (`--require-credit`).
    let creditReservations = CreditReservations()
    /// `porten login` starts per address (60 per 15 minutes before a back-off: a NAT of machines).
    let deviceStarts = SignInThrottle(freeAddressFailures: 60)
    /// Failed `porten enroll` attempts per address.
    let enrollFailures = SignInThrottle()
    /// Wrong `/device` codes per person and per address.
    let codeGuesses = SignInThrottle()
    /// Every open tunnel socket, said hello or not.
    let tunnelSockets = TunnelSockets()

    public init(
        configuration: HubConfiguration, store: any HubStore, catalog: Catalog, registry: NodeRegistry, usage: UsageRecorder,
        rateLimiter: RateLimiter = RateLimiter(), metrics: HubMetrics? = nil, replicas: ReplicaDirectory? = nil, logger: Logger
    ) {
        self.replicas = replicas
        self.metrics = metrics ?? HubMetrics(catalog: catalog)
        self.rateLimiter = rateLimiter
        self.configuration = configuration
        self.store = store
        self.liveCatalog = LiveCatalog(catalog)
        self.registry = registry
        self.usage = usage
        self.logger = logger
    }

    /// The offered models right now.
    public var catalog: Catalog { liveCatalog.current }

    /// Takes node `id` out of the fleet after its record changed (revoked, account disabled,
    /// region or trust class changed): every socket it has open is closed, including ones that
    /// have not said hello yet, and requests waiting on it fail. A node that may still connect
    /// comes back under its new record.
    func disconnectNode(_ id: String, reason: String) async {
        // From here no socket opened under the old record is welcomed; its requests fail over at
        // once, before the sockets close (one the node stopped reading can take the stall limit).
        let sockets = tunnelSockets.retire(nodeID: id)
        let connection = await registry.disconnect(nodeID: id)
        connection?.markClosed()
        await withTaskGroup(of: Void.self) { group in
            for socket in sockets { group.addTask { await socket.close(.policyViolation, reason: reason) } }
        }
    }
}
