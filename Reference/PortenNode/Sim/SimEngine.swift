import NodeProtocol
import OpenAIWire

/// The deterministic reference engine (docs/sim-engine.md): its answers are a documented function
/// of the request, so goldens can be exact and tests can predict every token.
public struct SimEngine: InferenceEngine {
    public let name = "sim"
    public let provisionable = false
    public let concurrency: Int
    /// The models the engine serves; every one is ready from the start.
    public let modelIDs: [String]
    /// Pause between streamed tokens, to make streaming observable.
    public let tokenDelay: Duration

    /// The models `porten dev` and the reference catalog offer.
    public static let referenceModels = ["ref-chat", "ref-tools", "ref-reasoner", "ref-vision", "ref-embed"]
    /// Length of every sim embedding.
    public static let embeddingDimensions = 16
    /// Prompt tokens each message costs on top of its text.
    public static let tokensPerMessage = 3

    public init(models: [String] = SimEngine.referenceModels, concurrency: Int = 16, tokenDelay: Duration = .zero) {
        self.modelIDs = models
        self.concurrency = concurrency
        self.tokenDelay = tokenDelay
    }

    public func models() async -> [TunnelMessage.ModelState] {
        modelIDs.map { .init(id: $0, state: .ready) }
    }

    public func chat(_ request: ChatCompletionRequest, emit: @Sendable (ChatEvent) async throws -> Void) async throws -> ChatOutcome {
        let plan = SimReply.plan(for: request)
        for token in plan.tokens {
            try Task.checkCancellation()
            if tokenDelay > .zero { try await Task.sleep(for: tokenDelay) }
            try await emit(.content(token))
        }
        let usage = Usage(promptTokens: Self.promptTokens(request.messages), completionTokens: plan.tokens.count)
        return ChatOutcome(finishReason: plan.finishReason, usage: usage)
    }

    public func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
        let vectors = request.inputs.map { SimEmbedding.vector(for: $0, dimensions: request.dimensions ?? Self.embeddingDimensions) }
        let tokens = request.inputs.reduce(0) { $0 + SimTokenizer.count($1) }
        return (vectors, Usage(promptTokens: tokens, completionTokens: 0))
    }

    /// Σ over messages of (tokens of its text + ``tokensPerMessage``).
    public static func promptTokens(_ messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + SimTokenizer.count($1.text) + tokensPerMessage }
    }
}
