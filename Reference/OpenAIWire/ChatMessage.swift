/// One message of a chat request's history, validated.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case system, developer, user, assistant, tool
    }

    /// A part of an array-valued `content`.
    public enum ContentPart: Sendable, Equatable {
        case text(String)
        case imageURL(url: String, detail: String?)
    }

    public var role: Role
    /// Plain text content, or the text parts joined with newlines.
    public var text: String
    public var parts: [ContentPart]
    public var name: String?
    public var toolCallID: String?

    public init(role: Role, text: String, parts: [ContentPart] = [], name: String? = nil, toolCallID: String? = nil) {
        self.role = role
        self.text = text
        self.parts = parts.isEmpty ? [.text(text)] : parts
        self.name = name
        self.toolCallID = toolCallID
    }
}

extension ChatMessage {
    /// Validates `messages[index]` of a request body.
    public init(validating value: JSONValue, path: String) throws(APIError) {
        let fields = try RequestFields(value, path: path)
        let roleName = try fields.requiredString("role")
        guard let role = Role(rawValue: roleName) else {
            throw .invalidRequest(
                "Invalid value for '\(fields.path(of: "role"))': '\(roleName)'. Supported values are: \(Role.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")).",
                param: fields.path(of: "role"))
        }
        let hasToolCalls = (try fields.array("tool_calls"))?.isEmpty == false
        let parts: [ContentPart]
        switch fields.members["content"] {
        case nil, .null?:
            // Only an assistant turn that carries tool calls may omit its content (REQ-11).
            guard role == .assistant, hasToolCalls else { throw fields.missing("content") }
            parts = []
        case .string(let string)?:
            parts = [.text(string)]
        case .array(let elements)?:
            var collected: [ContentPart] = []
            for (index, element) in elements.enumerated() {
                collected.append(try Self.contentPart(element, path: "\(fields.path(of: "content"))[\(index)]"))
            }
            parts = collected
        case let other?:
            throw fields.typeError("content", expected: "a string or an array of content parts", got: other)
        }
        let toolCallID = try fields.string("tool_call_id")
        if role == .tool, toolCallID == nil { throw fields.missing("tool_call_id") }
        self.role = role
        self.parts = parts
        self.text = parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined(separator: "\n")
        self.name = try fields.string("name")
        self.toolCallID = toolCallID
    }

    private static func contentPart(_ value: JSONValue, path: String) throws(APIError) -> ContentPart {
        let fields = try RequestFields(value, path: path)
        switch try fields.requiredString("type") {
        case "text":
            return .text(try fields.requiredString("text"))
        case "image_url":
            guard let image = try fields.object("image_url") else { throw fields.missing("image_url") }
            return .imageURL(url: try image.requiredString("url"), detail: try image.oneOf("detail", ["auto", "low", "high"]))
        case let other:
            throw .invalidRequest(
                "Invalid value for '\(fields.path(of: "type"))': '\(other)'. Supported values are: 'text', 'image_url'.",
                param: fields.path(of: "type"))
        }
    }
}
