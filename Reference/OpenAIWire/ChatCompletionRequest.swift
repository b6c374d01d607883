/// A validated `POST /v1/chat/completions` body.
///
/// The Hub validates with this type and forwards ``body`` (every field, known or not) to the
/// node, whose engine parses it again with the same rules.
public struct ChatCompletionRequest: Sendable {
    public var model: String
    public var messages: [ChatMessage]
    public var stream: Bool
    /// `stream_options.include_usage`.
    public var includeUsage: Bool
    /// `max_completion_tokens`, or the deprecated `max_tokens`.
    public var maxTokens: Int?
    public var stop: [String]
    public var temperature: Double?
    public var topP: Double?
    public var seed: Int?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var tools: [ToolDefinition]
    public var toolChoice: ToolChoice
    /// `parallel_tool_calls` (default true): whether the model may call several tools at once.
    public var parallelToolCalls: Bool
    public var responseFormat: ResponseFormat
    /// `user`, for abuse tracking; recorded on the usage row.
    public var user: String?
    /// `metadata`, up to 16 string pairs; recorded on the usage row.
    public var metadata: [String: String]
    /// The request exactly as received.
    public var body: JSONValue

    /// Largest accepted `max_tokens`; bigger values are a client mistake, not a capacity question.
    public static let maximumTokens = 1_048_576

    public init(validating body: JSONValue) throws(APIError) {
        let fields = try RequestFields(body)
        self.body = body
        model = try fields.requiredString("model")
        guard let messageValues = try fields.array("messages") else { throw fields.missing("messages") }
        guard !messageValues.isEmpty else {
            throw .invalidRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.", param: "messages", code: "empty_array")
        }
        var messages: [ChatMessage] = []
        for (index, value) in messageValues.enumerated() {
            messages.append(try ChatMessage(validating: value, path: "messages[\(index)]"))
        }
        self.messages = messages
        try Self.checkToolResults(messages)
        stream = try fields.bool("stream") ?? false
        if let options = try fields.object("stream_options") {
            guard stream else {
                throw .invalidRequest("The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: "stream_options")
            }
            includeUsage = try options.bool("include_usage") ?? false
        } else {
            includeUsage = false
        }
        let legacyMax = try fields.int("max_tokens", in: 1...Self.maximumTokens)
        maxTokens = try fields.int("max_completion_tokens", in: 1...Self.maximumTokens) ?? legacyMax
        if let n = try fields.int("n", in: 1...128), n > 1 {
            throw .invalidRequest("Only n=1 is supported; n=\(n) would silently return fewer choices.", param: "n", code: "unsupported_parameter")
        }
        stop = try Self.stopSequences(fields)
        temperature = try fields.double("temperature", in: 0...2)
        topP = try fields.double("top_p", in: 0...1)
        presencePenalty = try fields.double("presence_penalty", in: -2...2)
        frequencyPenalty = try fields.double("frequency_penalty", in: -2...2)
        seed = try fields.int("seed", in: Int.min...Int.max)
        tools = try Self.toolDefinitions(fields)
        toolChoice = try ToolChoice(validating: fields.value("tool_choice"), tools: tools, fields: fields)
        parallelToolCalls = try fields.bool("parallel_tool_calls") ?? true
        responseFormat = try ResponseFormat(validating: fields)
        user = try fields.string("user")
        metadata = try Self.metadata(fields)
    }

    /// Whether the request needs a model with the catalog capability `tools`, `json` or `vision`.
    public var requiredCapabilities: [String] {
        var needed: [String] = []
        if !tools.isEmpty { needed.append("tools") }
        if responseFormat.wantsJSON { needed.append("json") }
        if messages.contains(where: { !$0.images.isEmpty }) { needed.append("vision") }
        return needed
    }

    private static func toolDefinitions(_ fields: RequestFields) throws(APIError) -> [ToolDefinition] {
        guard let values = try fields.array("tools") else { return [] }
        guard values.count <= ToolDefinition.maximumCount else {
            throw .invalidRequest("Invalid 'tools': at most \(ToolDefinition.maximumCount) tools are allowed, got \(values.count).", param: "tools")
        }
        var tools: [ToolDefinition] = []
        for (index, value) in values.enumerated() {
            let tool = try ToolDefinition(validating: value, path: "tools[\(index)]")
            guard !tools.contains(where: { $0.name == tool.name }) else {
                throw .invalidRequest("Invalid 'tools[\(index)].function.name': '\(tool.name)' is declared twice.", param: "tools[\(index)].function.name")
            }
            tools.append(tool)
        }
        return tools
    }

    /// Every `tool` message answers a call an earlier assistant message made.
    private static func checkToolResults(_ messages: [ChatMessage]) throws(APIError) {
        var calls = Set<String>()
        for (index, message) in messages.enumerated() {
            calls.formUnion(message.toolCalls.map(\.id))
            if message.role == .tool, let id = message.toolCallID, !calls.contains(id) {
                throw .invalidRequest(
                    "Invalid 'messages[\(index)].tool_call_id': '\(id)' answers no tool call of an earlier assistant message.",
                    param: "messages[\(index)].tool_call_id")
            }
        }
    }

    /// `metadata`: at most 16 pairs, keys up to 64 characters, string values up to 512.
    private static func metadata(_ fields: RequestFields) throws(APIError) -> [String: String] {
        guard let metadata = try fields.object("metadata") else { return [:] }
        guard metadata.members.count <= 16 else {
            throw .invalidRequest("Invalid 'metadata': at most 16 pairs are allowed, got \(metadata.members.count).", param: "metadata")
        }
        var pairs: [String: String] = [:]
        for (key, value) in metadata.members.sorted(by: { $0.key < $1.key }) {
            guard let string = value.stringValue else { throw metadata.typeError(key, expected: "a string", got: value) }
            guard key.count <= 64, string.count <= 512 else {
                throw .invalidRequest(
                    "Invalid 'metadata.\(key)': keys are at most 64 characters and values at most 512.", param: metadata.path(of: key))
            }
            pairs[key] = string
        }
        return pairs
    }

    /// `stop`: a string or an array of one to four strings.
    private static func stopSequences(_ fields: RequestFields) throws(APIError) -> [String] {
        switch fields.value("stop") {
        case nil: return []
        case .string(let string)?: return [string]
        case .array(let elements)?:
            guard (1...4).contains(elements.count) else {
                throw .invalidRequest("Invalid 'stop': expected between 1 and 4 sequences, got \(elements.count).", param: "stop")
            }
            var sequences: [String] = []
            for (index, element) in elements.enumerated() {
                guard case .string(let string) = element else {
                    throw .invalidRequest("Invalid type for 'stop[\(index)]': expected a string, but got \(element.typeDescription).", param: "stop[\(index)]", code: "invalid_type")
                }
                sequences.append(string)
            }
            return sequences
        case let other?:
            throw fields.typeError("stop", expected: "a string or an array of strings", got: other)
        }
    }
}
