import OpenAIWire

/// What the sim engine answers to a chat request, decided before the first token is sent: the
/// events in order (each one completion token), the finish reason and the reasoning tokens.
/// The rules are those of docs/sim-engine.md.
public struct SimReply: Sendable, Equatable {
    public var events: [ChatEvent]
    public var finishReason: String
    /// How many of ``events`` are reasoning (kept after the `max_tokens` cut).
    public var reasoningTokens: Int

    public init(events: [ChatEvent], finishReason: String, reasoningTokens: Int = 0) {
        self.events = events
        self.finishReason = finishReason
        self.reasoningTokens = reasoningTokens
    }

    /// The text of the content events, joined.
    public var content: String {
        events.map { if case .content(let text) = $0 { text } else { "" } }.joined()
    }

    /// Prompt tokens a sim answer is given for an inline image.
    public static let tokensPerImage = 85
    /// A last user message containing this is answered with the sampling parameters the engine got.
    public static let echoParametersTrigger = "[sim:echo-params]"

    public static func plan(for request: ChatCompletionRequest, capabilities: [String] = []) -> SimReply {
        let lastUser = request.messages.last { $0.role == .user }
        let text = lastUser?.text ?? ""
        var events: [ChatEvent] = []
        var reasoning = 0
        if capabilities.contains("reasoning") {
            events = SimTokenizer.tokens("Let me think. The user said: " + text).map(ChatEvent.reasoning)
            reasoning = events.count
        }
        var finishReason = "stop"
        let calls = SimToolCalls.plan(for: request, text: text)
        if !calls.isEmpty {
            events += calls
            finishReason = "tool_calls"
        } else {
            events += SimTokenizer.tokens(answerText(for: request, lastUser: lastUser, capabilities: capabilities)).map(ChatEvent.content)
        }
        if let limit = request.maxTokens, events.count > limit {
            events = Array(events.prefix(limit))
            reasoning = min(reasoning, limit)
            finishReason = "length"
        }
        return SimReply(events: events, finishReason: finishReason, reasoningTokens: reasoning)
    }

    /// The answer when no tool is called, cut before the first `stop` sequence.
    private static func answerText(for request: ChatCompletionRequest, lastUser: ChatMessage?, capabilities: [String]) -> String {
        let text = lastUser?.text ?? ""
        var answer: String
        if case .jsonSchema(_, let schema?, _) = request.responseFormat {
            answer = JSONText.compact(SimJSON.instance(of: schema, text: text, number: SimTokenizer.count(text)))
        } else if request.responseFormat.wantsJSON {
            answer = JSONText.compact(.object(["echo": .string(text)]))
        } else if text.contains(echoParametersTrigger) {
            answer = parameterReport(request)
        } else if let results = toolResults(request.messages) {
            answer = "Tool results: " + results
        } else {
            answer = "Echo: " + text
            if capabilities.contains("vision") {
                for (index, image) in (lastUser?.images ?? []).enumerated() {
                    answer += " [image \(index + 1): \(image.mediaType), \(image.byteCount) bytes]"
                }
            }
        }
        if let cut = request.stop.compactMap({ answer.range(of: $0)?.lowerBound }).min() {
            answer = String(answer[..<cut])
        }
        return answer
    }

    /// `Params: temperature=… top_p=… seed=… presence_penalty=… frequency_penalty=… max_tokens=…`,
    /// `-` for what the request left out: proof that the Hub forwards these to the engine. (`stop`
    /// shows in the answer being cut.)
    private static func parameterReport(_ request: ChatCompletionRequest) -> String {
        func show(_ value: (some CustomStringConvertible)?) -> String { value.map(\.description) ?? "-" }
        return "Params: temperature=\(show(request.temperature)) top_p=\(show(request.topP)) seed=\(show(request.seed))"
            + " presence_penalty=\(show(request.presencePenalty)) frequency_penalty=\(show(request.frequencyPenalty))"
            + " max_tokens=\(show(request.maxTokens))"
    }

    /// When the history ends with tool results: their contents joined with `; `.
    private static func toolResults(_ messages: [ChatMessage]) -> String? {
        let trailing = messages.reversed().prefix { $0.role == .tool }
        guard !trailing.isEmpty else { return nil }
        return trailing.reversed().map(\.text).joined(separator: "; ")
    }
}
