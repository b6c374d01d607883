import NodeProtocol
import OpenAIWire

/// The deterministic reference engine (docs/sim-engine.md): its answers are a documented function
/// of the request, so goldens can be exact and tests can predict every token.
public struct SimEngine: InferenceEngine {
    public let name = "sim"
    public let concurrency: Int
    /// The models ready from the start.
    public let modelIDs: [String]
    /// Pause between streamed tokens, to make streaming observable.
    public let tokenDelay: Duration
    /// How loads are simulated; nil for a fixed node that serves only ``modelIDs``.
    public let provisioning: SimProvisioning?
    let store: SimModelStore

    /// The models `porten dev` and the reference catalog offer.
    public static let referenceModels = ["ref-chat", "ref-tools", "ref-reasoner", "ref-vision", "ref-embed"]
    /// Length of every sim embedding.
    public static let embeddingDimensions = 16
    /// Prompt tokens each message costs on top of its text.
    public static let tokensPerMessage = 3

    public init(
        models: [String] = SimEngine.referenceModels, concurrency: Int = 16, tokenDelay: Duration = .zero, provisioning: SimProvisioning? = nil
    ) {
        self.modelIDs = models
        self.concurrency = concurrency
        self.tokenDelay = tokenDelay
        self.provisioning = provisioning
        self.store = SimModelStore(ready: models)
    }

    public var provisionable: Bool { provisioning != nil }
    public var vramBudgetMB: Int? { provisioning?.vramBudgetMB }
    public var diskBudgetMB: Int? { provisioning?.diskBudgetMB }

    public func models() async -> [TunnelMessage.ModelState] {
        await store.states().sorted { $0.id < $1.id }.map { .init(id: $0.id, state: $0.ready ? .ready : .onDisk) }
    }

    /// A last user message containing this fails the answer after two tokens (a mid-stream failure).
    public static let failMidStreamTrigger = "[sim:fail-mid-stream]"

    public func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws
        -> ChatOutcome
    {
        try await requireReady(request.model)
        let plan = SimReply.plan(for: request, capabilities: capabilities)
        let failAfter = request.messages.last { $0.role == .user }?.text.contains(Self.failMidStreamTrigger) == true ? 2 : nil
        for (sent, event) in plan.events.enumerated() {
            if sent == failAfter { throw APIError.nodeError("The sim engine failed mid-stream, as asked by \(Self.failMidStreamTrigger).") }
            try Task.checkCancellation()
            if tokenDelay > .zero { try await Task.sleep(for: tokenDelay) }
            try await emit(event)
        }
        let usage = Usage(
            promptTokens: Self.promptTokens(request), completionTokens: plan.events.count,
            reasoningTokens: capabilities.contains("reasoning") ? plan.reasoningTokens : nil)
        return ChatOutcome(finishReason: plan.finishReason, usage: usage)
    }

    public func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
        try await requireReady(request.model)
        let vectors = request.inputs.map { SimEmbedding.vector(for: $0, dimensions: request.dimensions ?? Self.embeddingDimensions) }
        let tokens = request.inputs.reduce(0) { $0 + SimTokenizer.count($1) }
        return (vectors, Usage(promptTokens: tokens, completionTokens: 0))
    }

    /// Σ over messages of (tokens of its text + ``tokensPerMessage`` + ``SimReply/tokensPerImage``
    /// per image + tokens of each tool call's name and arguments), plus, per tool, the tokens of
    /// its name and description + ``tokensPerMessage``.
    public static func promptTokens(_ request: ChatCompletionRequest) -> Int {
        let messages = request.messages.reduce(0) { total, message in
            total + SimTokenizer.count(message.text) + tokensPerMessage + SimReply.tokensPerImage * message.images.count
                + message.toolCalls.reduce(0) { $0 + SimTokenizer.count($1.function.name) + SimTokenizer.count($1.function.arguments) }
        }
        return request.tools.reduce(messages) {
            $0 + SimTokenizer.count($1.name) + SimTokenizer.count($1.description ?? "") + tokensPerMessage
        }
    }

    /// OpenAI's answer when the prompt plus the requested completion exceed the window.
    public func checkContext(_ request: ChatCompletionRequest, ctx: Int) throws(APIError) {
        let prompt = Self.promptTokens(request)
        let completion = request.maxTokens ?? 0
        guard prompt + completion > ctx else { return }
        let asked = completion > 0
            ? "you requested \(prompt + completion) tokens (\(prompt) in the messages, \(completion) in the completion). Please reduce the length of the messages or completion."
            : "your messages resulted in \(prompt) tokens. Please reduce the length of the messages."
        throw .invalidRequest("This model's maximum context length is \(ctx) tokens. However, \(asked)", param: "messages", code: "context_length_exceeded")
    }

    private func requireReady(_ model: String) async throws(APIError) {
        guard await store.isReady(model) else { throw .nodeError("'\(model)' is not loaded on this node.") }
    }
}
