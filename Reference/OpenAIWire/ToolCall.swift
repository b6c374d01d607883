/// A function call the assistant made: in a response's `message.tool_calls`, and in the history
/// of a later request.
public struct ToolCall: Codable, Sendable, Equatable {
    public var id: String
    public var type = "function"
    public var function: Function

    public struct Function: Codable, Sendable, Equatable {
        public var name: String
        /// The arguments as a JSON text (OpenAI sends a string, not an object).
        public var arguments: String

        public init(name: String, arguments: String) {
            self.name = name
            self.arguments = arguments
        }
    }

    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.function = Function(name: name, arguments: arguments)
    }

    /// Validates `messages[i].tool_calls[j]`.
    init(validating value: JSONValue, path: String) throws(APIError) {
        let fields = try RequestFields(value, path: path)
        id = try fields.requiredString("id")
        guard try fields.requiredString("type") == "function" else {
            throw .invalidRequest("Invalid value for '\(fields.path(of: "type"))': expected 'function'.", param: fields.path(of: "type"))
        }
        guard let function = try fields.object("function") else { throw fields.missing("function") }
        self.function = Function(name: try function.requiredString("name"), arguments: try function.requiredString("arguments"))
    }
}

/// A piece of a streamed tool call. The first piece of each call has `id`, `name` and empty
/// `arguments`; later ones only `arguments` fragments. `index` tells parallel calls apart.
public struct ToolCallDelta: Codable, Sendable, Equatable {
    public var index: Int
    public var id: String?
    public var name: String?
    public var arguments: String?

    public init(index: Int, id: String? = nil, name: String? = nil, arguments: String? = nil) {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}
