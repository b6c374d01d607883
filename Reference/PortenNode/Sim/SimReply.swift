import OpenAIWire

/// What the sim engine answers to a chat request, decided before the first token is sent.
public struct SimReply: Sendable, Equatable {
    public var tokens: [String]
    public var finishReason: String

    public init(tokens: [String], finishReason: String) {
        self.tokens = tokens
        self.finishReason = finishReason
    }

    /// The rules of docs/sim-engine.md: the answer is `Echo: ` followed by the text of the last
    /// user message; it is cut before the first `stop` sequence, then limited to `max_tokens`
    /// tokens (`finish_reason: "length"` when that cut anything).
    public static func plan(for request: ChatCompletionRequest) -> SimReply {
        let lastUser = request.messages.last { $0.role == .user }?.text ?? ""
        var text = "Echo: " + lastUser
        if let cut = request.stop.compactMap({ text.range(of: $0)?.lowerBound }).min() {
            text = String(text[..<cut])
        }
        var tokens = SimTokenizer.tokens(text)
        var finishReason = "stop"
        if let limit = request.maxTokens, tokens.count > limit {
            tokens = Array(tokens.prefix(limit))
            finishReason = "length"
        }
        return SimReply(tokens: tokens, finishReason: finishReason)
    }
}
