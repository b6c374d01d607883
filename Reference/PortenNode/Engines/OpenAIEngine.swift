import AsyncHTTPClient
import Foundation
import NIOCore
import NodeProtocol
import OpenAIWire

/// The `openai` engine: a fixed set of models behind an OpenAI-compatible endpoint (an exo
/// cluster, vLLM, a hand-run llama-server). Requests go upstream with the fields the Hub validated
/// (``ForwardedFields``; always streamed, with usage), answers stream back, an upstream `reasoning` field is normalised to
/// `reasoning_content`, and upstream errors become OpenAI-shaped errors. Never provisioned.
public struct OpenAIEngine: InferenceEngine {
    public let name = "openai"
    public let provisionable = false
    public let concurrency: Int
    /// The upstream base URL, ending in `/v1`.
    public let baseURL: String
    public let modelIDs: [String]
    public let apiKey: String?
    /// An operator's override of the VRAM the node reports (a pooled cluster's total).
    public let vramBudgetMB: Int?
    private let upstream: UpstreamHTTP

    public init(baseURL: String, models: [String], apiKey: String? = nil, concurrency: Int = 16, vramBudgetMB: Int? = nil, client: HTTPClient = .shared) {
        self.init(baseURL: baseURL, models: models, apiKey: apiKey, concurrency: concurrency, vramBudgetMB: vramBudgetMB, client: client, connections: nil)
    }

    /// `connections`: the pool of a plain-HTTP upstream that outlives this engine value (the
    /// builtin engine's llama-server); by default the engine has its own.
    init(
        baseURL: String, models: [String], apiKey: String?, concurrency: Int = 16, vramBudgetMB: Int? = nil, client: HTTPClient,
        connections: UpstreamConnectionPool?
    ) {
        let trimmed = UpstreamHTTP(baseURL: baseURL, apiKey: apiKey, client: client, connections: connections)
        upstream = trimmed.baseURL.hasSuffix("/v1") ? trimmed : trimmed.appending("/v1")
        self.baseURL = upstream.baseURL
        self.modelIDs = models
        self.apiKey = apiKey
        self.concurrency = concurrency
        self.vramBudgetMB = vramBudgetMB
    }

    /// The advertised models, ready only while the upstream answers `GET /models`.
    public func models() async -> [TunnelMessage.ModelState] {
        guard await upstream.answers("/models") else { return [] }
        return modelIDs.map { .init(id: $0, state: .ready) }
    }

    public func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws
        -> ChatOutcome
    {
        guard case .object(var body) = ForwardedFields.chat(request.body) else { throw APIError.invalidRequest("The request body must be an object.") }
        body["stream"] = .bool(true)
        body["stream_options"] = .object(["include_usage": .bool(true)])
        let response = try await upstream.send("POST", "/chat/completions", body: .object(body), timeout: .seconds(3600))
        if response.headers.first(name: "Content-Type")?.lowercased().hasPrefix("application/json") == true {
            // A server that ignores `stream` answers with the whole completion.
            let completion = try await response.body.collect(upTo: 256 << 20)
            let (events, outcome) = try OpenAIStreamReader.completion(Array(completion.readableBytesView))
            for event in events { try await emit(event) }
            return outcome
        }
        var stream = OpenAIStreamReader()
        for try await buffer in response.body {
            for event in try stream.feed(buffer.readableBytesView) { try await emit(event) }
            if stream.isDone {
                response.finishReading()
                break
            }
        }
        return stream.outcome
    }

    public func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
        guard case .object(var body) = ForwardedFields.embeddings(request.body) else { throw APIError.invalidRequest("The request body must be an object.") }
        body["encoding_format"] = .string("float")
        let json = try await upstream.json("POST", "/embeddings", body: .object(body), timeout: .seconds(600))
        let items = (json["data"]?.arrayValue ?? []).sorted { ($0["index"]?.intValue ?? 0) < ($1["index"]?.intValue ?? 0) }
        let vectors = items.map { ($0["embedding"]?.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) } }
        let prompt = json["usage"]?["prompt_tokens"]?.intValue ?? 0
        return (vectors, Usage(promptTokens: prompt, completionTokens: 0))
    }
}
