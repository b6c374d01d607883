import AsyncHTTPClient
import Foundation
import NIOCore
import NodeProtocol
import OpenAIWire

/// The `ollama` engine: an allow-list of the models an Ollama server has pulled, served through
/// Ollama's own HTTP API (`/api/tags`, `/api/chat` streamed as NDJSON, `/api/embed`). Fixed: the
/// Hub never asks it to load or unload anything.
public struct OllamaEngine: InferenceEngine {
    public let name = "ollama"
    public let provisionable = false
    public let concurrency: Int
    public let baseURL: String
    /// The operator's allow-list; only those of them Ollama has are offered.
    public let modelIDs: [String]
    public let vramBudgetMB: Int?
    private let upstream: UpstreamHTTP

    public static let defaultURL = "http://127.0.0.1:11434"

    public init(baseURL: String = OllamaEngine.defaultURL, models: [String], concurrency: Int = 4, vramBudgetMB: Int? = nil, client: HTTPClient = .shared) {
        upstream = UpstreamHTTP(baseURL: baseURL, apiKey: nil, client: client)
        self.baseURL = upstream.baseURL
        self.modelIDs = models
        self.concurrency = concurrency
        self.vramBudgetMB = vramBudgetMB
    }

    /// The allow-listed models Ollama lists in `/api/tags` (by `name` or `model`).
    public func models() async -> [TunnelMessage.ModelState] {
        guard let tags = try? await upstream.json("GET", "/api/tags", timeout: .seconds(5)) else { return [] }
        let pulled = Set((tags["models"]?.arrayValue ?? []).flatMap { [$0["name"]?.stringValue, $0["model"]?.stringValue].compactMap { $0 } })
        return modelIDs.filter(pulled.contains).map { .init(id: $0, state: .ready) }
    }

    public func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws
        -> ChatOutcome
    {
        let response = try await upstream.send(
            "POST", "/api/chat", body: OllamaRequest.chatBody(request, capabilities: capabilities), timeout: .seconds(3600))
        var reader = OllamaStreamReader(callIDPrefix: "call_" + UUID().uuidString.prefix(8).lowercased() + "_")
        for try await buffer in response.body {
            for event in try reader.feed(buffer.readableBytesView) { try await emit(event) }
            if reader.isDone {
                response.finishReading()
                break
            }
        }
        return reader.outcome
    }

    public func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
        let body: JSONValue = ["model": .string(request.model), "input": .array(request.inputs.map(JSONValue.string))]
        let json = try await upstream.json("POST", "/api/embed", body: body, timeout: .seconds(600))
        let vectors = (json["embeddings"]?.arrayValue ?? []).map { ($0.arrayValue ?? []).compactMap { $0.doubleValue.map(Float.init) } }
        return (vectors, Usage(promptTokens: json["prompt_eval_count"]?.intValue ?? 0, completionTokens: 0))
    }
}
