/// One `chat.completion.chunk` of a streamed answer.
///
/// Every choice carries `"logprobs": null` and `"finish_reason"` (null until the last chunk), as
/// OpenAI's recorded streams do (WIRE-2). `usage` is written only when set: the usage chunk that
/// `stream_options.include_usage` asks for has `choices: []` and a `usage` object.
public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
    }

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?

        public init(index: Int = 0, delta: Delta, finishReason: String? = nil) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
        }

        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            index = try container.decode(Int.self, forKey: .index)
            delta = try container.decode(Delta.self, forKey: .delta)
            finishReason = try container.decodeIfPresent(String.self, forKey: .finishReason)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(delta, forKey: .delta)
            try container.encodeNil(forKey: .logprobs)
            try container.encode(finishReason, forKey: .finishReason)
        }
    }

    /// The change a chunk carries; absent fields are omitted from the wire.
    public struct Delta: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?
        public var reasoningContent: String?
        public var toolCalls: [ToolCallPiece]?

        public init(role: String? = nil, content: String? = nil, reasoningContent: String? = nil, toolCalls: [ToolCallPiece]? = nil) {
            self.role = role
            self.content = content
            self.reasoningContent = reasoningContent
            self.toolCalls = toolCalls
        }

        enum CodingKeys: String, CodingKey { case role, content, reasoningContent = "reasoning_content", toolCalls = "tool_calls" }
    }

    /// A tool call in a delta: `index` always; `id`, `type` and `function.name` on a call's first piece.
    public struct ToolCallPiece: Codable, Sendable, Equatable {
        public var index: Int
        public var id: String?
        public var type: String?
        public var function: Function

        public struct Function: Codable, Sendable, Equatable {
            public var name: String?
            public var arguments: String?
            public init(name: String? = nil, arguments: String? = nil) {
                self.name = name
                self.arguments = arguments
            }
        }

        public init(index: Int, id: String? = nil, type: String? = nil, function: Function) {
            self.index = index
            self.id = id
            self.type = type
            self.function = function
        }
    }
}
