import NodeProtocol
import OpenAIWire

/// What an engine emits while answering a chat request, in order.
public enum ChatEvent: Sendable, Equatable {
    case content(String)
    case reasoning(String)
    /// A piece of a tool call: the first for each call has its id and name, later ones arguments.
    case toolCall(ToolCallDelta)
}

/// How a chat answer ended.
public struct ChatOutcome: Sendable, Equatable {
    public var finishReason: String
    public var usage: Usage

    public init(finishReason: String, usage: Usage) {
        self.finishReason = finishReason
        self.usage = usage
    }
}

/// A back-end the node agent drives: the sim engine, llama-server, Ollama, an OpenAI endpoint.
///
/// Engines stream through `emit`; when the Hub cancels a request, `emit` throws
/// `CancellationError` and the engine must stop generating and return promptly.
public protocol InferenceEngine: Sendable {
    /// The engine's name in the hello (`sim`, `builtin`, `ollama`, `openai`).
    var name: String { get }
    /// Whether the Hub may ask this engine to load catalog models.
    var provisionable: Bool { get }
    /// How many requests it runs at once.
    var concurrency: Int { get }
    /// The models it has and their states.
    func models() async -> [TunnelMessage.ModelState]
    /// Answers a chat request, streaming pieces through `emit`. `capabilities` are the model's in
    /// the Hub's catalog.
    func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws -> ChatOutcome
    /// Refuses a request that does not fit a context window of `ctx` tokens with OpenAI's
    /// `400 context_length_exceeded`. Engines that count tokens implement it; the default accepts
    /// (llama-server and upstream APIs answer that error themselves).
    func checkContext(_ request: ChatCompletionRequest, ctx: Int) throws(APIError)
    /// Embeds every input, in order.
    func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage)

    /// VRAM the Hub may fill with models (the hello's `vram_mb`); nil for fixed engines.
    var vramBudgetMB: Int? { get }
    /// Disk the engine may fill with cached weights (the hello's `disk_mb`).
    var diskBudgetMB: Int? { get }
    /// Makes a catalog model ready (download if needed, then load), reporting progress through
    /// `progress`; throws with a message for the Hub when it cannot.
    func load(_ request: TunnelMessage.Load, progress: @Sendable (TunnelMessage.Progress) async -> Void) async throws
    /// Frees the model's VRAM; its weights stay on disk.
    func unload(model: String) async
    /// Models the engine lost on its own (a crashed server) from now on; the tunnel reports each
    /// `unloaded`. The stream ends when its consumer stops.
    func lostModels() -> AsyncStream<String>
    /// Stops what the engine started (the agent is shutting down).
    func shutdown() async
}

extension InferenceEngine {
    public func checkContext(_ request: ChatCompletionRequest, ctx: Int) throws(APIError) {}
    public var vramBudgetMB: Int? { nil }
    public var diskBudgetMB: Int? { nil }

    public func load(_ request: TunnelMessage.Load, progress: @Sendable (TunnelMessage.Progress) async -> Void) async throws {
        throw EngineError("the \(name) engine serves a fixed set of models and cannot load '\(request.model)'")
    }

    public func unload(model: String) async {}

    public func lostModels() -> AsyncStream<String> { AsyncStream { $0.finish() } }

    public func shutdown() async {}
}

/// A failure of an engine, with a message fit for the Hub's logs and the client's error.
public struct EngineError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
