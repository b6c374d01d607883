import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import OpenAIWire
import ServiceLifecycle

/// Builds the Hub: store, catalog, routes and background services, as one Hummingbird application.
public enum HubApplication {
    /// - Parameter onServerRunning: called with the bound port once the Hub accepts connections.
    public static func build(
        configuration: HubConfiguration, logger: Logger, extraServices: [any Service] = [], onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> (application: some ApplicationProtocol, services: HubServices) {
        let store = try configuration.databasePath.map { try HubStore.open(path: $0) } ?? HubStore.inMemory()
        try store.replaceCatalog(configuration.catalog)
        let usage = UsageRecorder(store: store, logger: logger)
        let services = HubServices(
            configuration: configuration, store: store, catalog: configuration.catalog, registry: NodeRegistry(
                catalog: configuration.catalog, demandWindow: configuration.demandWindow, maximumQueueLength: configuration.maximumQueueLength),
            usage: usage,
            logger: logger)
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
                RequestWatchdog(
                    registry: services.registry, idleTimeout: configuration.requestIdleTimeout,
                    interval: min(.seconds(1), configuration.requestIdleTimeout / 4)),
                FleetSweeper(
                    registry: services.registry, loadIdleTimeout: configuration.requestIdleTimeout,
                    interval: min(.seconds(1), configuration.demandWindow / 10), logger: logger),
            ] + extraServices,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        return (application, services)
    }

    static func buildRouter(_ services: HubServices) -> Router<HubRequestContext> {
        let router = Router(context: HubRequestContext.self)
        router.addMiddleware { OpenAIErrorMiddleware() }
        let chat = ChatCompletionsController(services: services)
        let embeddings = EmbeddingsController(services: services)
        let models = ModelsController(services: services, created: Int(Date().timeIntervalSince1970))
        router.post("/v1/chat/completions", use: chat.create)
        router.post("/v1/embeddings", use: embeddings.create)
        router.get("/v1/models", use: models.list)
        router.get("/public/v1/models/warming", use: WarmingController(services: services).show)
        router.get("/healthz") { _, _ in JSONResponse.make(["status": "ok"]) }
        router.get("/node/v1/connect", use: TunnelController(services: services).refuse)
        AdminController(services: services).addRoutes(to: router.group("/admin/v1"))
        return router
    }
}
