import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
import OpenAIWire
import PortenHub
import NodeProtocol
import PortenNode
import Synchronization
import Testing

/// The Hub and a node agent in one process, talking over a real WebSocket on loopback.
@Suite(.serialized)
struct TunnelTests {
    private let adminToken = "padm-test"

    private func withHubAndNode(
        engine: any InferenceEngine = SimEngine(tokenDelay: .milliseconds(2)), idleTimeout: Duration = .seconds(120),
        _ body: @Sendable (any TestClientProtocol, HubServices, String) async throws -> Void
    ) async throws {
        let logger = { var logger = Logger(label: "test"); logger.logLevel = .warning; return logger }()
        let configuration = HubConfiguration(port: 0, adminToken: adminToken, requestIdleTimeout: idleTimeout)
        let (application, services) = try await HubApplication.build(configuration: configuration, logger: logger)
        let account = try await services.store.createAccount(name: "t")
        let key = try await services.store.createKey(accountID: account.id, name: "k").token.plain
        let credential = try await services.store.createNode(accountID: account.id, name: "n", region: "eu", trustClass: "verified").credential.plain
        try await application.test(.live) { client in
            let port = try #require(client.port)
            let agent = NodeAgent(
                hubURL: "http://127.0.0.1:\(port)", credential: credential, engine: engine, logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await agent.run() }
                for _ in 0..<200 where await !services.registry.readyModels().contains("ref-chat") {
                    try await Task.sleep(for: .milliseconds(20))
                }
                try await body(client, services, key)
                group.cancelAll()
            }
        }
    }

    private func post(_ client: any TestClientProtocol, _ path: String, key: String, _ json: String) async throws -> TestResponse {
        try await client.execute(
            uri: path, method: .post, headers: [.authorization: "Bearer \(key)", .contentType: "application/json"],
            body: ByteBuffer(string: json))
    }

    @Test func chatTravelsThroughTheTunnel() async throws {
        try await withHubAndNode { client, services, key in
            let response = try await post(client, "/v1/chat/completions", key: key, #"{"model":"ref-chat","messages":[{"role":"user","content":"tunnel test"}]}"#)
            #expect(response.status == .ok)
            let completion = try JSONDecoder().decode(ChatCompletion.self, from: Data(buffer: response.body))
            #expect(completion.choices[0].message.content == "Echo: tunnel test")
            #expect(response.headers[.init("X-Porten-Node")!] == (await services.registry.connectedNodeIDs()).first)
        }
    }

    @Test func streamsArriveAsSSEEndingWithDone() async throws {
        try await withHubAndNode { client, _, key in
            let response = try await post(client, "/v1/chat/completions", key: key, #"{"model":"ref-chat","stream":true,"messages":[{"role":"user","content":"a b c"}]}"#)
            var parser = ServerSentEvents.Parser()
            let events = parser.feed(Array(buffer: response.body))
            #expect(events.last == "[DONE]")
            let chunks = try events.dropLast().map { try JSONDecoder().decode(ChatCompletionChunk.self, from: Data($0.utf8)) }
            #expect(chunks.compactMap { $0.choices.first?.delta.content }.joined() == "Echo: a b c")
            #expect(chunks.last?.choices.first?.finishReason == "stop")
        }
    }

    @Test func theTunnelRefusesABadCredential() async throws {
        try await withHubAndNode { client, _, _ in
            let response = try await client.execute(uri: "/node/v1/connect", method: .get, headers: [.authorization: "Bearer pnode-nope"])
            #expect(response.status == .unauthorized)
        }
    }

    @Test func embeddingsComeBackInInputOrder() async throws {
        try await withHubAndNode { client, _, key in
            let response = try await post(client, "/v1/embeddings", key: key, #"{"model":"ref-embed","input":["x","y"]}"#)
            let embeddings = try JSONDecoder().decode(EmbeddingResponse.self, from: Data(buffer: response.body))
            #expect(embeddings.data.map(\.index) == [0, 1])
            #expect(embeddings.data[0].embedding.floats == SimEmbedding.vector(for: "x", dimensions: 16))
        }
    }

    /// Where the engine ran a request: on an event loop's thread, or not.
    private final class ThreadRecordingEngine: InferenceEngine {
        let inner = SimEngine(tokenDelay: .milliseconds(1))
        let onLoop = Mutex<[String: Bool]>([:])
        var name: String { inner.name }
        var provisionable: Bool { inner.provisionable }
        var concurrency: Int { inner.concurrency }
        func models() async -> [TunnelMessage.ModelState] { await inner.models() }
        func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws -> ChatOutcome {
            onLoop.withLock { $0["chat"] = MultiThreadedEventLoopGroup.currentEventLoop != nil }
            return try await inner.chat(request, capabilities: capabilities, emit: emit)
        }
        func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
            onLoop.withLock { $0["embed"] = MultiThreadedEventLoopGroup.currentEventLoop != nil }
            return try await inner.embed(request)
        }
    }

    @Test func chatRunsOnTheTunnelsEventLoopAndEmbeddingsOffIt() async throws {
        let engine = ThreadRecordingEngine()
        try await withHubAndNode(engine: engine) { client, _, key in
            let chat = try await post(client, "/v1/chat/completions", key: key, #"{"model":"ref-chat","messages":[{"role":"user","content":"x"}]}"#)
            #expect(chat.status == .ok)
            let embeddings = try await post(client, "/v1/embeddings", key: key, #"{"model":"ref-embed","input":["x"]}"#)
            #expect(embeddings.status == .ok)
        }
        // A chat crosses no thread on the node; heavy JSON (embeddings) does not hold up the tunnel.
        #expect(engine.onLoop.withLock { $0 } == ["chat": true, "embed": false])
    }

    /// Answers embeddings with one wide vector, so the node's frame is several megabytes.
    private final class WideVectorEngine: InferenceEngine {
        let inner = SimEngine(tokenDelay: .milliseconds(1))
        static let width = 300_000
        var name: String { inner.name }
        var provisionable: Bool { inner.provisionable }
        var concurrency: Int { inner.concurrency }
        func models() async -> [TunnelMessage.ModelState] { await inner.models() }
        func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws -> ChatOutcome {
            try await inner.chat(request, capabilities: capabilities, emit: emit)
        }
        func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
            ([(0..<Self.width).map { Float($0 % 1000) / 1000 }], Usage(promptTokens: 1, completionTokens: 0))
        }
    }

    @Test func aFrameOverAMegabyteIsDecodedOffTheTunnelsLoopAndArrivesWhole() async throws {
        try await withHubAndNode(engine: WideVectorEngine()) { client, _, key in
            let embeddings = try await post(client, "/v1/embeddings", key: key, #"{"model":"ref-embed","input":"x"}"#)
            #expect(embeddings.status == .ok)
            let answer = try JSONDecoder().decode(EmbeddingsAnswer.self, from: Data(buffer: embeddings.body))
            #expect(answer.data.map(\.embedding.count) == [WideVectorEngine.width])
            #expect(answer.data.first?.embedding[999] == 0.999)
            // The tunnel reads on after it.
            let chat = try await post(client, "/v1/chat/completions", key: key, #"{"model":"ref-chat","messages":[{"role":"user","content":"x"}]}"#)
            #expect(chat.status == .ok)
        }
    }

    private struct EmbeddingsAnswer: Decodable {
        struct Item: Decodable { let embedding: [Float] }
        let data: [Item]
    }

    @Test func aChatModelIsNotAnEmbeddingModel() async throws {
        try await withHubAndNode { client, _, key in
            let response = try await post(client, "/v1/embeddings", key: key, #"{"model":"ref-chat","input":"x"}"#)
            #expect(response.status == .badRequest)
            let envelope = try JSONDecoder().decode(APIError.Envelope.self, from: Data(buffer: response.body))
            #expect(envelope.error.param == "model")
        }
    }

    @Test func whatANodeClaimsInItsHelloIsIgnored() async throws {
        try await withHubAndNode { client, services, _ in
            let port = try #require(client.port)
            let account = try await services.store.createAccount(name: "claims")
            let record = try await services.store.createNode(accountID: account.id, name: "liar", region: "eu", trustClass: "community")
            let welcome = Mutex<String?>(nil)
            var configuration = WebSocketClientConfiguration()
            configuration.additionalHeaders[.authorization] = "Bearer \(record.credential.plain)"
            let hello = #"{"type":"hello","protocol":1,"engine":"sim","agent":"liar/1","provisionable":false,"concurrency":1,"#
                + #""region":"us","trust_class":"confidential","account_id":"acct_someone_else","models":[{"id":"ref-chat","state":"ready"}]}"#
            _ = try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/node/v1/connect", configuration: configuration, logger: Logger(label: "liar")
            ) { inbound, outbound, _ in
                try await outbound.write(.text(hello))
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    if case .text(let text) = message { welcome.withLock { $0 = text } }
                    break
                }
                // The welcome goes out just before the node joins the fleet.
                var snapshot = await services.registry.snapshot().nodes.first { $0.id == record.node.id }
                for _ in 0..<100 where snapshot == nil {
                    try await Task.sleep(for: .milliseconds(20))
                    snapshot = await services.registry.snapshot().nodes.first { $0.id == record.node.id }
                }
                #expect(snapshot?.region == "eu" && snapshot?.trustClass == .community && snapshot?.owner == account.id)
            }
            guard case .welcome(let answer)? = try welcome.withLock({ $0 }).map(TunnelMessage.init(text:)) else {
                Issue.record("no welcome")
                return
            }
            #expect(answer.region == "eu" && answer.trustClass == "community")
        }
    }

    @Test func aConnectionThatNeverSaysHelloIsClosed() async throws {
        let logger = Logger(label: "test")
        var configuration = HubConfiguration(port: 0, adminToken: adminToken)
        configuration.helloTimeout = .milliseconds(300)
        let (application, services) = try await HubApplication.build(configuration: configuration, logger: logger)
        let account = try await services.store.createAccount(name: "t")
        let credential = try await services.store.createNode(accountID: account.id, name: "mute", region: "eu", trustClass: "verified").credential.plain
        try await application.test(.live) { client in
            let port = try #require(client.port)
            var options = WebSocketClientConfiguration()
            options.additionalHeaders[.authorization] = "Bearer \(credential)"
            let started = ContinuousClock.now
            _ = try await WebSocketClient.connect(url: "ws://127.0.0.1:\(port)/node/v1/connect", configuration: options, logger: logger) {
                inbound, _, _ in
                for try await _ in inbound.messages(maxSize: 1 << 16) {}  // ends when the Hub closes
            }
            let waited = ContinuousClock.now - started
            #expect(waited >= .milliseconds(250) && waited < .seconds(5))
            #expect(await services.registry.connectedNodeIDs().isEmpty)
        }
    }

    @Test func aSilentNodeEndsTheRequestWith504InsteadOfHanging() async throws {
        let engine = StallingEngine()
        try await withHubAndNode(engine: engine, idleTimeout: .milliseconds(300)) { client, services, key in
            let started = ContinuousClock.now
            let response = try await post(client, "/v1/chat/completions", key: key, #"{"model":"ref-chat","messages":[{"role":"user","content":"x"}]}"#)
            #expect(response.status == .gatewayTimeout)
            #expect(ContinuousClock.now - started < .seconds(5))
            let envelope = try JSONDecoder().decode(APIError.Envelope.self, from: Data(buffer: response.body))
            #expect(envelope.error.code == "gateway_timeout")
            let nodeID = try #require(await services.registry.connectedNodeIDs().first)
            #expect(await services.registry.inFlight(nodeID: nodeID) == 0)
            // The Hub's cancel reached the node and stopped the engine's work.
            for _ in 0..<100 where !engine.wasCancelled { try await Task.sleep(for: .milliseconds(20)) }
            #expect(engine.wasCancelled)
        }
    }
}

/// An engine that accepts requests and never answers them, and notes when it is cancelled.
private final class StallingEngine: InferenceEngine {
    let name = "stall"
    let provisionable = false
    let concurrency = 4
    private let cancelled = Mutex(false)
    var wasCancelled: Bool { cancelled.withLock { $0 } }

    func models() async -> [TunnelMessage.ModelState] { [.init(id: "ref-chat", state: .ready)] }
    func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws -> ChatOutcome {
        do {
            try await Task.sleep(for: .seconds(3600))
        } catch {
            cancelled.withLock { $0 = true }
        }
        throw CancellationError()
    }
    func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) { throw CancellationError() }
}
