import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
@testable import PortenHub
import Testing

/// A connection's requests run on its event loop when they are the hot path and few are in
/// flight, and on the global executor when they could hold the loop up (``LoopOrPoolMiddleware``).
struct LoopOrPoolTests {
    @Test func theHotPathRunsOnItsConnectionsEventLoopAndTheRestOffIt() async throws {
        let usage = UsageRecorder(store: try SQLiteStore.inMemory(), logger: Logger(label: "test"))
        let router = Router(context: HubRequestContext.self)
        router.addMiddleware { LoopOrPoolMiddleware(usage: usage) }
        let whereItRan: @Sendable (Request, HubRequestContext) async throws -> String = { request, _ in
            _ = try await request.body.collect(upTo: 4 << 20)
            return MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop"
        }
        router.post("/v1/chat/completions", use: whereItRan)
        router.post("/internal/v1/chat/completions", use: whereItRan)
        router.post("/v1/embeddings", use: whereItRan)
        router.get("/v1/models", use: whereItRan)
        router.get("/healthz", use: whereItRan)
        router.post("/admin/v1/keys", use: whereItRan)
        router.post("/signin", use: whereItRan)
        // A body written after the handler returned (a file download): where it was written.
        router.get("/install/download") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                try await writer.write(ByteBuffer(string: MultiThreadedEventLoopGroup.currentEventLoop == nil ? "pool" : "loop"))
                try await writer.finish(nil)
            })
        }
        let application = Application(
            router: router,
            server: .http1WebSocketUpgradeWithDeadlines(
                webSocketRouter: Router(context: HubRequestContext.self), configuration: .init(), bodyTimeout: .seconds(30)),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            logger: Logger(label: "test"))
        try await application.test(.live) { client in
            func ran(_ method: HTTPRequest.Method, _ uri: String, bytes: Int = 0) async throws -> String {
                try await client.execute(uri: uri, method: method, body: bytes > 0 ? ByteBuffer(repeating: 0x61, count: bytes) : nil) {
                    #expect($0.status == .ok)
                    return String(buffer: $0.body)
                }
            }
            try await #expect(ran(.post, "/v1/chat/completions", bytes: 1_000) == "loop")
            try await #expect(ran(.post, "/internal/v1/chat/completions", bytes: LoopOrPoolMiddleware.onLoopBodySize) == "loop")
            try await #expect(ran(.get, "/v1/models") == "loop")
            try await #expect(ran(.get, "/healthz") == "loop")
            // A prompt too long to parse without holding up the loop's other connections.
            try await #expect(ran(.post, "/v1/chat/completions", bytes: LoopOrPoolMiddleware.onLoopBodySize + 1) == "pool")
            try await #expect(ran(.post, "/v1/embeddings", bytes: 100) == "pool")
            try await #expect(ran(.post, "/admin/v1/keys", bytes: 100) == "pool")
            try await #expect(ran(.post, "/signin", bytes: 100) == "pool")
            try await #expect(ran(.get, "/install/download") == "pool")
            // Under load the hot path goes to the global executor too, and back when it eases.
            for _ in 0..<LoopOrPoolMiddleware.onLoopBelow { usage.meteringStarted() }
            try await #expect(ran(.post, "/v1/chat/completions", bytes: 1_000) == "pool")
            usage.meteringEnded()
            try await #expect(ran(.post, "/v1/chat/completions", bytes: 1_000) == "loop")
        }
    }
}
