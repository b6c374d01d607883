import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import OpenAIWire
import PortenRedis
import ServiceLifecycle

/// Builds the Hub: store, catalog, routes and background services, as one Hummingbird application.
public enum HubApplication {
    /// - Parameter onServerRunning: called with the bound port once the Hub accepts connections.
    public static func build(
        configuration: HubConfiguration, store: (any HubStore)? = nil, logger: Logger, extraServices: [any Service] = [],
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws -> (application: some ApplicationProtocol, services: HubServices) {
        /// Postgres when the caller opened it (`--database-url`), else SQLite in the data directory.
        let store: any HubStore = try store ?? configuration.databasePath.map { try SQLiteStore.open(path: $0) } ?? SQLiteStore.inMemory()
        let catalog = try await store.applyingSwitches(to: configuration.catalog)
        try await store.replaceCatalog(catalog)
        let usage = UsageRecorder(store: store, ledger: configuration.ledger, logger: logger)
        let metrics = HubMetrics(catalog: catalog)
        let rateLimiter = RateLimiter(
            redis: configuration.redis.map { RedisClient(configuration: $0, logger: logger) }, metrics: metrics, logger: logger)
        let registry = NodeRegistry(
            // The fleet knows every catalog model: the operator may enable one while the Hub
            // runs; requests are gated by the live catalog.
            catalog: Catalog(models: catalog.models.map { model in
                var model = model
                model.enabled = true
                return model
            }), demandWindow: configuration.demandWindow, maximumQueueLength: configuration.maximumQueueLength,
            replicaAfter: configuration.replicaAfter, metrics: metrics)
        var replicas: ReplicaDirectory?
        if let redis = configuration.redis, let token = configuration.replicaToken, let url = configuration.replicaURL {
            replicas = ReplicaDirectory(url: url, token: token, redis: RedisClient(configuration: redis, logger: logger), registry: registry, logger: logger)
        }
        let services = HubServices(
            configuration: configuration, store: store, catalog: catalog, registry: registry, usage: usage, rateLimiter: rateLimiter,
            metrics: metrics, replicas: replicas, logger: logger)
        let router = buildRouter(services)
        let webSocketRouter = Router(context: HubRequestContext.self)
        TunnelController(services: services).addWebSocketRoute(to: webSocketRouter)
        let application = Application(
            router: router,
            server: .http1WebSocketUpgradeWithDeadlines(
                webSocketRouter: webSocketRouter,
                configuration: .init(
                    http1: .init(idleTimeout: .nanoseconds(Int64(configuration.idleTimeout / .nanoseconds(1)))),
                    ws: .init(maxFrameSize: 64 << 20, autoPing: .enabled(timePeriod: .seconds(15)))),
                bodyTimeout: configuration.bodyTimeout),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "porten-hub",
                availableConnectionsDelegate: .maximum(configuration.maximumConnections, logger: logger)),
            services: [
                usage,
                rateLimiter,
                RequestWatchdog(
                    registry: services.registry, idleTimeout: configuration.requestIdleTimeout,
                    interval: min(.seconds(1), configuration.requestIdleTimeout / 4)),
                FleetSweeper(
                    registry: services.registry, loadIdleTimeout: configuration.requestIdleTimeout,
                    interval: min(.seconds(1), configuration.demandWindow / 10), logger: logger),
                RecordSync(services: services, interval: configuration.recordSyncInterval),
            ] + (replicas.map { [$0] } ?? []) + extraServices,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        return (application, services)
    }

    static func buildRouter(_ services: HubServices) -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        router.addMiddleware { LoopOrPoolMiddleware(usage: services.usage) }
        router.addMiddleware { OpenAIErrorMiddleware() }
        let chat = ChatCompletionsController(services: services)
        let embeddings = EmbeddingsController(services: services)
        let models = ModelsController(services: services, created: Int(Date().timeIntervalSince1970))
        let api = router.group("/v1").add(middleware: APIKeyMiddleware(store: services.store))
        api.post("chat/completions", use: chat.create)
        api.post("embeddings", use: embeddings.create)
        api.get("models", use: models.list)
        api.get("models/{model}", use: models.retrieve)
        // What another replica forwards: its own nodes or a refusal, never a second hop.
        let internalAPI = router.group("/internal/v1")
            .add(middleware: ReplicaTokenMiddleware(directory: services.replicas))
            .add(middleware: APIKeyMiddleware(store: services.store))
        internalAPI.post("chat/completions", use: chat.create)
        internalAPI.post("embeddings", use: embeddings.create)
        router.get("/public/v1/models/warming", use: WarmingController(services: services).show)
        router.get("/healthz") { _, _ in JSONResponse.make(text: #"{"status":"ok"}"#) }
        TunnelController(services: services).addRefusal(to: router)
        EnrollmentController(services: services).addRoutes(to: router)
        InstallController(services: services).addRoutes(to: router)
        AdminController(services: services).addRoutes(
            to: router.group("/admin/v1").add(middleware: OperatorTokenMiddleware(adminToken: services.configuration.adminToken)))
        router.group("/metrics").add(middleware: OperatorTokenMiddleware(adminToken: services.configuration.adminToken)).get { _, _ in
            services.metrics.fleet(await services.registry.snapshot().nodes)
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: services.metrics.registry.emitToBuffer())))
        }
        addPortal(to: router, services)
        return router
    }

    /// The portal's pages: sessions and CSRF for all of them, sign-in required under `/build`,
    /// operators only under `/admin`.
    static func addPortal(to router: Router<HubRequestContext>, _ services: HubServices) {
        let pages = PortalPages()
        let session = SessionMiddleware(store: services.store, configuration: services.configuration, pages: pages)
        router.get("/static/:file", use: PortalAssets.serve)
        SignInController(services: services, pages: pages, throttle: services.signInThrottle).addRoutes(to: router.group().add(middleware: session))
        BuildController(services: services, pages: pages).addRoutes(
            to: router.group("/build").add(middleware: session).add(middleware: RequireSignIn()))
        EarnController(services: services, pages: pages).addRoutes(
            earn: router.group("/earn").add(middleware: session).add(middleware: RequireSignIn()),
            device: router.group("/device").add(middleware: session).add(middleware: RequireSignIn()))
        OperatorPagesController(services: services, pages: pages).addRoutes(
            to: router.group("/admin").add(middleware: session)
                .add(middleware: RequireSignIn(operatorOnly: true)))
    }
}
