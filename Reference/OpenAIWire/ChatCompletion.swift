/// A non-streaming `chat.completion` response.
public struct ChatCompletion: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage?) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var message: Message
        public var finishReason: String

        public init(index: Int = 0, message: Message, finishReason: String) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
        }

        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decode(Int.self, forKey: .index)
            message = try container.decode(Message.self, forKey: .message)
            finishReason = try container.decode(String.self, forKey: .finishReason)
        }

        /// `logprobs` is always present as `null` (RESP-2).
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(message, forKey: .message)
            try container.encodeNil(forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    /// The assistant message; `content` and `refusal` are always present, possibly `null` (RESP-4).
    public struct Message: Codable, Sendable, Equatable {
        public var role = "assistant"
        public var content: String?
        public var reasoningContent: String?
        /// Present only when the assistant called tools.
        public var toolCalls: [ToolCall]?

        public init(content: String?, reasoningContent: String? = nil, toolCalls: [ToolCall]? = nil) {
            self.content = content
            self.reasoningContent = reasoningContent
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey { case role, content, refusal, reasoningContent = "reasoning_content", toolCalls = "tool_calls" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            role = try container.decode(String.self, forKey: .role)
            content = try container.decodeIfPresent(String.self, forKey: .content)
            reasoningContent = try container.decodeIfPresent(String.self, forKey: .reasoningContent)
            toolCalls = try container.decodeIfPresent([ToolCall].self, forKey: .toolCalls)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(role, forKey: .role)
            try container.encode(content, forKey: .content)
            try container.encodeIfPresent(reasoningContent, forKey: .reasoningContent)
            try container.encodeNil(forKey: .refusal)
            try container.encodeIfPresent(toolCalls, forKey: .toolCalls)
        }
    }
}

extension ChatCompletion {
    /// The completion as compact JSON in OpenAI's key order, written by hand: one per
    /// non-streamed request, where `JSONEncoder` would cost more than the rest of the answer.
    /// The same JSON as the `Encodable` conformance (tested).
    public var jsonText: String {
        var text = "{\"id\":\(JSONText.quote(id)),\"object\":\(JSONText.quote(object)),\"created\":\(created),\"model\":\(JSONText.quote(model)),\"choices\":["
        for (position, choice) in choices.enumerated() {
            if position > 0 { text += "," }
            let message = choice.message
            text += "{\"index\":\(choice.index),\"message\":{\"role\":\(JSONText.quote(message.role)),\"content\":"
            text += message.content.map(JSONText.quote) ?? "null"
            if let reasoning = message.reasoningContent { text += ",\"reasoning_content\":\(JSONText.quote(reasoning))" }
            text += ",\"refusal\":null"
            if let calls = message.toolCalls {
                text += ",\"tool_calls\":[" + calls.map(\.jsonText).joined(separator: ",") + "]"
            }
            text += "},\"logprobs\":null,\"finish_reason\":\(JSONText.quote(choice.finishReason))}"
        }
        text += "]"
        if let usage { text += ",\"usage\":\(JSONText.usage(usage))" }
        return text + "}"
    }
}

extension ToolCall {
    /// `{"id":…,"type":"function","function":{"name":…,"arguments":…}}`.
    public var jsonText: String {
        "{\"id\":\(JSONText.quote(id)),\"type\":\(JSONText.quote(type)),\"function\":{\"name\":\(JSONText.quote(function.name)),\"arguments\":\(JSONText.quote(function.arguments))}}"
    }
}

extension APIError {
    /// The error envelope, `{"error":{"code":…,"message":…,"param":…,"type":…}}`, written by hand
    /// (keys sorted, as the Hub's encoder writes them; `param` and `code` null when absent): a
    /// refusal (a flood of bad keys, a client over its limits) costs no `JSONEncoder`. The same
    /// JSON as the `Encodable` envelope (tested).
    public var jsonText: String {
        "{\"error\":{\"code\":\(code.map(JSONText.quote) ?? "null"),\"message\":\(JSONText.quote(message)),\"param\":\(param.map(JSONText.quote) ?? "null"),\"type\":\(JSONText.quote(type))}}"
    }
}
