/// `response_format`: free text, any JSON object, or JSON matching a schema.
public enum ResponseFormat: Sendable, Equatable {
    case text
    case jsonObject
    case jsonSchema(name: String, schema: JSONValue?, strict: Bool)

    public var wantsJSON: Bool { self != .text }

    init(validating fields: RequestFields) throws(APIError) {
        guard let format = try fields.object("response_format") else {
            self = .text
            return
        }
        switch try format.requiredString("type") {
        case "text":
            self = .text
        case "json_object":
            self = .jsonObject
        case "json_schema":
            guard let schema = try format.object("json_schema") else { throw format.missing("json_schema") }
            let name = try schema.requiredString("name")
            guard ToolDefinition.isValidName(name) else {
                throw .invalidRequest(
                    "Invalid 'response_format.json_schema.name': '\(name)'. Names are 1 to 64 letters, digits, underscores or dashes.",
                    param: "response_format.json_schema.name")
            }
            let body = schema.value("schema")
            if let body, body.objectValue == nil { throw schema.typeError("schema", expected: "a JSON Schema object", got: body) }
            self = .jsonSchema(name: name, schema: body, strict: try schema.bool("strict") ?? false)
        case let other:
            throw .invalidRequest(
                "Invalid value for 'response_format.type': '\(other)'. Supported values are: 'text', 'json_object', 'json_schema'.",
                param: "response_format.type", code: "invalid_value")
        }
    }
}
