import PortenRedis

/// How a Hub runs: where it listens, where its data lives, what it offers.
public struct HubConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// SQLite database file; nil for a private in-memory database.
    public var databasePath: String?
    public var catalog: Catalog
    /// The operator token for `/admin/v1/…`.
    public var adminToken: String
    /// Largest accepted request body, in bytes (413 beyond it).
    public var maximumBodySize: Int
    /// How long a node may stay silent about a request before the Hub gives up on it (504).
    public var requestIdleTimeout: Duration
    /// How long a node that opened the tunnel may take to say hello before the Hub closes it.
    public var helloTimeout: Duration = .seconds(10)
    /// How long a request for a cold model waits for its load before `503 model_warming`.
    public var warmupBudget: Duration
    /// How long a request waits in the admission queue when every node serving its model is busy,
    /// before `503 no_available_node`.
    public var queueBudget: Duration = .seconds(30)
    /// A streamed request still waiting for a node (a cold load, a full queue) after this long
    /// gets its `200` and SSE headers, then a comment line every `streamKeepAliveInterval` until
    /// its first chunk, so proxies do not cut a silent connection; nil: never.
    public var streamKeepAliveAfter: Duration? = .seconds(10)
    public var streamKeepAliveInterval: Duration = .seconds(5)
    /// Requests that may wait in one model's admission queue; past it, `503` at once.
    public var maximumQueueLength: Int = 1000
    /// A model whose admission queue has held a request this long gets another replica on a
    /// provisionable node that can take it (docs/planner.md); nil: never.
    public var replicaAfter: Duration? = .seconds(5)
    /// Redis shared by the Hub's replicas (`--redis-url`): the keys' rate windows live there; nil
    /// keeps them in this process.
    public var redis: RedisConfiguration?
    /// With ``redis``: the secret the replicas share for forwarding requests to each other
    /// (`--replica-token`), and the URL the others reach this replica at (`--replica-url`).
    public var replicaToken: String?
    public var replicaURL: String?
    /// How often a replica re-reads the node records and catalog switches other replicas may
    /// have changed (``RecordSync``).
    public var recordSyncInterval: Duration = .seconds(3)
    /// The demand window: demand counts requests within it, and a provisioned model idle for a
    /// whole window is unloaded.
    public var demandWindow: Duration
    /// The most answer a node may send for one request (bytes of text, reasoning, tool calls and
    /// vectors); past it the request fails with `502 node_error` and is cancelled on the node.
    public var maximumAnswerSize: Int = 16 << 20
    /// Connection hygiene (docs/hardening.md): a connection that sends nothing for this long —
    /// before its request head is complete, between body parts, or idle between requests — is
    /// closed. (A request being answered is not idle; its node has `requestIdleTimeout`.)
    public var idleTimeout: Duration = .seconds(30)
    /// How long a request's body may take, from its head to its end, however steadily it drips.
    public var bodyTimeout: Duration = .seconds(120)
    /// Connections the Hub holds at once; past it, it stops accepting until one closes.
    public var maximumConnections: Int = 4096
    /// The Hub's public base URL (`https://hub.example.com`): set-password links use it, and an
    /// `https` one marks session cookies `Secure`. Unset: links use the request's Host.
    public var publicURL: String?
    /// Whether people may create their own account at `/signup`.
    public var allowSignup = false
    /// Region and trust class of machines enrolled through the browser or a token.
    public var enrollmentPolicy = EnrollmentPolicy()
    /// How long a `porten login` code stays valid (RFC 8628 `expires_in`).
    public var deviceCodeLifetime: Duration = .seconds(600)
    /// Seconds a machine waits between polls for its approval (RFC 8628 `interval`).
    public var devicePollInterval = 5
    /// The operator's share of each request's price (`--platform-fee 0.2`), in basis points.
    public var ledger = LedgerPolicy()
    /// Refuse requests (`429 insufficient_quota`) of accounts whose balance is not positive.
    public var requireCredit = false
    /// The ledger's currency (ISO 4217); amounts are kept in its micro-units.
    public var currency = "EUR"
    /// How long a portal session lasts after sign-in.
    public var sessionLifetime: Duration = .seconds(7 * 86_400)

    public init(
        host: String = "127.0.0.1", port: Int = 8080, databasePath: String? = nil, catalog: Catalog = .reference, adminToken: String,
        maximumBodySize: Int = 16 << 20, requestIdleTimeout: Duration = .seconds(120), warmupBudget: Duration = .seconds(300),
        demandWindow: Duration = .seconds(600)
    ) {
        self.warmupBudget = warmupBudget
        self.demandWindow = demandWindow
        self.host = host
        self.port = port
        self.databasePath = databasePath
        self.catalog = catalog
        self.adminToken = adminToken
        self.maximumBodySize = maximumBodySize
        self.requestIdleTimeout = requestIdleTimeout
    }
}
