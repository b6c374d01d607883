import Logging

/// What the Hub's controllers share: the store, the catalog, the connected fleet and metering.
public struct HubServices: Sendable {
    public let configuration: HubConfiguration
    public let store: HubStore
    public let catalog: Catalog
    public let registry: NodeRegistry
    public let usage: UsageRecorder
    public let rateLimiter: RateLimiter
    public let logger: Logger

    public init(
        configuration: HubConfiguration, store: HubStore, catalog: Catalog, registry: NodeRegistry, usage: UsageRecorder,
        rateLimiter: RateLimiter = RateLimiter(), logger: Logger
    ) {
        self.rateLimiter = rateLimiter
        self.configuration = configuration
        self.store = store
        self.catalog = catalog
        self.registry = registry
        self.usage = usage
        self.logger = logger
    }

    var authenticator: KeyAuthenticator { KeyAuthenticator(store: store) }
}
