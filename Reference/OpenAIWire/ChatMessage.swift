/// One message of a chat request's history, validated.
public struct ChatMessage: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable {
        case system, developer, user, assistant, tool
    }

    /// A part of an array-valued `content`.
    public enum ContentPart: Sendable, Equatable {
        case text(String)
        /// An inline image (only `data:` URLs are accepted; the Hub never fetches a URL).
        case image(DataURL, detail: String?)
    }

    public var role: Role
    /// Plain text content, or the text parts joined with newlines.
    public var text: String
    public var parts: [ContentPart]
    public var name: String?
    public var toolCallID: String?
    /// Calls an assistant turn made (history).
    public var toolCalls: [ToolCall]
    /// Reasoning an assistant turn carried (history; engines may ignore it).
    public var reasoningContent: String?

    public init(
        role: Role, text: String, parts: [ContentPart] = [], name: String? = nil, toolCallID: String? = nil, toolCalls: [ToolCall] = [],
        reasoningContent: String? = nil
    ) {
        self.role = role
        self.text = text
        self.parts = parts.isEmpty ? [.text(text)] : parts
        self.name = name
        self.toolCallID = toolCallID
        self.toolCalls = toolCalls
        self.reasoningContent = reasoningContent
    }

    /// The inline images of the message.
    public var images: [DataURL] {
        parts.compactMap { if case .image(let image, _) = $0 { image } else { nil } }
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
                param: fields.path(of: "role"), code: "invalid_value")
        }
        var toolCalls: [ToolCall] = []
        if let calls = try fields.array("tool_calls") {
            guard role == .assistant else {
                throw .invalidRequest("Only assistant messages may carry 'tool_calls'.", param: fields.path(of: "tool_calls"))
            }
            for (index, call) in calls.enumerated() {
                toolCalls.append(try ToolCall(validating: call, path: "\(fields.path(of: "tool_calls"))[\(index)]"))
            }
        }
        let hasToolCalls = !toolCalls.isEmpty
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
                let part = try Self.contentPart(element, path: "\(fields.path(of: "content"))[\(index)]")
                if case .image = part, role != .user {
                    throw .invalidRequest(
                        "Images are only allowed in user messages; '\(fields.path(of: "content"))[\(index)]' is in a \(role.rawValue) message.",
                        param: "\(fields.path(of: "content"))[\(index)]")
                }
                collected.append(part)
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
        self.toolCalls = toolCalls
        self.reasoningContent = role == .assistant ? try fields.string("reasoning_content") : nil
    }

    private static func contentPart(_ value: JSONValue, path: String) throws(APIError) -> ContentPart {
        let fields = try RequestFields(value, path: path)
        switch try fields.requiredString("type") {
        case "text":
            return .text(try fields.requiredString("text"))
        case "image_url":
            guard let image = try fields.object("image_url") else { throw fields.missing("image_url") }
            let url = try image.requiredString("url")
            let param = image.path(of: "url")
            let lowered = url.prefix(8).lowercased()
            if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
                throw .invalidRequest(
                    "Remote image URLs are not fetched (SSRF protection); inline the image as a data URL (data:image/png;base64,…) in '\(param)'.",
                    param: param, code: "image_url_not_supported")
            }
            let dataURL: DataURL
            do throws(DataURLError) {
                dataURL = try DataURL(parsing: url)
            } catch {
                throw .invalidRequest("Invalid image in '\(param)': \(error.reason).", param: param, code: "invalid_value")
            }
            return .image(dataURL, detail: try image.oneOf("detail", ["auto", "low", "high"]))
        case let other:
            throw .invalidRequest(
                "Invalid value for '\(fields.path(of: "type"))': '\(other)'. Supported values are: 'text', 'image_url'.",
                param: fields.path(of: "type"), code: "invalid_value")
        }
    }
}
