/// One entry of a chat request's `tools`: a function the model may call.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The JSON Schema of the arguments (an object schema), if given.
    public var parameters: JSONValue?
    public var strict: Bool?

    /// Largest accepted number of tools, as OpenAI.
    public static let maximumCount = 128

    public init(name: String, description: String? = nil, parameters: JSONValue? = nil, strict: Bool? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }

    /// Validates `tools[index]`: `{"type":"function","function":{"name",…}}`.
    public init(validating value: JSONValue, path: String) throws(APIError) {
        let fields = try RequestFields(value, path: path)
        guard try fields.requiredString("type") == "function" else {
            throw .invalidRequest(
                "Invalid value for '\(fields.path(of: "type"))': only 'function' tools are supported.", param: fields.path(of: "type"))
        }
        guard let function = try fields.object("function") else { throw fields.missing("function") }
        name = try function.requiredString("name")
        guard Self.isValidName(name) else {
            throw .invalidRequest(
                "Invalid '\(function.path(of: "name"))': '\(name)'. Function names are 1 to 64 letters, digits, underscores or dashes.",
                param: function.path(of: "name"))
        }
        description = try function.string("description")
        if let parameters = function.value("parameters") {
            guard case .object = parameters else { throw function.typeError("parameters", expected: "a JSON Schema object", got: parameters) }
            self.parameters = parameters
        }
        strict = try function.bool("strict")
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F || byte == 0x2D
        }
    }
}

/// `tool_choice`: whether and which tool the model must call.
public enum ToolChoice: Sendable, Equatable {
    case none, auto, required
    case function(String)

    /// Validates `tool_choice` against the request's tools (a named function must be one of them).
    init(validating value: JSONValue?, tools: [ToolDefinition], fields: RequestFields) throws(APIError) {
        guard let value else {
            self = tools.isEmpty ? .none : .auto
            return
        }
        guard !tools.isEmpty else {
            throw .invalidRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.", param: "tool_choice")
        }
        switch value {
        case .string("none"): self = .none
        case .string("auto"): self = .auto
        case .string("required"): self = .required
        case .string(let other):
            throw .invalidRequest(
                "Invalid value for 'tool_choice': '\(other)'. Supported values are: 'none', 'auto', 'required', or {\"type\":\"function\",\"function\":{\"name\":…}}.",
                param: "tool_choice", code: "invalid_value")
        case .object:
            let choice = try RequestFields(value, path: "tool_choice")
            guard try choice.requiredString("type") == "function" else {
                throw .invalidRequest("Invalid value for 'tool_choice.type': expected 'function'.", param: "tool_choice.type")
            }
            guard let function = try choice.object("function") else { throw choice.missing("function") }
            let name = try function.requiredString("name")
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalidRequest(
                    "Invalid value for 'tool_choice.function.name': '\(name)' is not one of the request's tools.", param: "tool_choice.function.name")
            }
            self = .function(name)
        default:
            throw fields.typeError("tool_choice", expected: "a string or an object", got: value)
        }
    }
}
