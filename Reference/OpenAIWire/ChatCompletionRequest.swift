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
    public var user: String?
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
        _ = try fields.double("presence_penalty", in: -2...2)
        _ = try fields.double("frequency_penalty", in: -2...2)
        seed = try fields.int("seed", in: Int.min...Int.max)
        user = try fields.string("user")
        if let metadata = try fields.object("metadata") {
            for (key, value) in metadata.members where value.stringValue == nil {
                throw metadata.typeError(key, expected: "a string", got: value)
            }
        }
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
                    throw .invalidRequest("Invalid type for 'stop[\(index)]': expected a string, but got \(element.typeDescription).", param: "stop[\(index)]")
                }
                sequences.append(string)
            }
            return sequences
        case let other?:
            throw fields.typeError("stop", expected: "a string or an array of strings", got: other)
        }
    }
}
