import OpenAIWire

/// The frames of every request (`infer`, `delta`, `end`) read with OpenAIWire's ``JSONParser``
/// and written as text by hand; the rest go through `Codable`. Same JSON either way: these
/// readers accept exactly what the `Codable` ones accept (tested frame by frame).
extension TunnelMessage {
    /// A frame nests a request body (at most ``JSONParser/defaultMaximumDepth`` deep) one level down.
    static let maximumDepth = JSONParser.defaultMaximumDepth + 2

    /// Why a hot frame could not be read: the field and what was wrong with it.
    struct FieldError: Error, CustomStringConvertible {
        var description: String
    }

    /// The frame `object` as one of the hot types, or nil for another type.
    static func hotFrame(type: String, _ object: [String: JSONValue]) throws(FieldError) -> TunnelMessage? {
        let fields = Fields(object)
        switch type {
        case "infer":
            return .infer(
                Infer(
                    id: try fields.string("id"), kind: try fields.kind(), model: try fields.string("model"), body: try fields.value("body"),
                    capabilities: try fields.strings("capabilities") ?? [], ctx: try fields.optionalInt("ctx")))
        case "delta":
            return .delta(
                Delta(
                    id: try fields.string("id"), content: try fields.optionalString("content"),
                    reasoningContent: try fields.optionalString("reasoning_content"), toolCall: try fields.toolCall(),
                    pieces: try fields.optionalInt("pieces"), heldMS: try fields.optionalInt("held_ms")))
        case "end":
            var end = End(id: try fields.string("id"), finishReason: try fields.optionalString("finish_reason"), usage: try fields.usage())
            (end.content, end.reasoningContent) = (try fields.optionalString("content"), try fields.optionalString("reasoning_content"))
            (end.pieces, end.heldMS) = (try fields.optionalInt("pieces"), try fields.optionalInt("held_ms"))
            return .end(end)
        default:
            return nil
        }
    }

    /// The frame as compact JSON text, if it is a hot type.
    var hotText: String? {
        switch self {
        case .infer(let infer):
            var text = "{\"type\":\"infer\",\"id\":\(JSONText.quote(infer.id)),\"kind\":\"\(infer.kind.rawValue)\""
            text += ",\"model\":\(JSONText.quote(infer.model)),\"body\":\(JSONText.compact(infer.body))"
            text += ",\"capabilities\":[" + infer.capabilities.map(JSONText.quote).joined(separator: ",") + "]"
            if let ctx = infer.ctx { text += ",\"ctx\":\(ctx)" }
            return text + "}"
        case .delta(let delta):
            var text = "{\"type\":\"delta\",\"id\":\(JSONText.quote(delta.id))"
            if let content = delta.content { text += ",\"content\":\(JSONText.quote(content))" }
            if let reasoning = delta.reasoningContent { text += ",\"reasoning_content\":\(JSONText.quote(reasoning))" }
            if let call = delta.toolCall {
                text += ",\"tool_call\":{\"index\":\(call.index)"
                if let id = call.id { text += ",\"id\":\(JSONText.quote(id))" }
                if let name = call.name { text += ",\"name\":\(JSONText.quote(name))" }
                if let arguments = call.arguments { text += ",\"arguments\":\(JSONText.quote(arguments))" }
                text += "}"
            }
            return text + Self.pieceFields(pieces: delta.pieces, heldMS: delta.heldMS) + "}"
        case .end(let end):
            var text = "{\"type\":\"end\",\"id\":\(JSONText.quote(end.id))"
            if let reason = end.finishReason { text += ",\"finish_reason\":\(JSONText.quote(reason))" }
            if let content = end.content { text += ",\"content\":\(JSONText.quote(content))" }
            if let reasoning = end.reasoningContent { text += ",\"reasoning_content\":\(JSONText.quote(reasoning))" }
            return text + Self.pieceFields(pieces: end.pieces, heldMS: end.heldMS) + ",\"usage\":\(JSONText.usage(end.usage))}"
        default:
            return nil
        }
    }

    /// `pieces` and `held_ms` of a frame with text, those that are set.
    private static func pieceFields(pieces: Int?, heldMS: Int?) -> String {
        (pieces.map { ",\"pieces\":\($0)" } ?? "") + (heldMS.map { ",\"held_ms\":\($0)" } ?? "")
    }
}

/// Typed reads of a frame's members, with `Codable`'s rules: a missing or null optional is nil,
/// an integer may be written as an integral number.
private struct Fields {
    let object: [String: JSONValue]
    var path: String = ""

    init(_ object: [String: JSONValue], path: String = "") {
        self.object = object
        self.path = path
    }

    func failure(_ key: String, _ expected: String) -> TunnelMessage.FieldError {
        TunnelMessage.FieldError(description: "'\(path)\(key)' must be \(expected)")
    }

    func value(_ key: String) throws(TunnelMessage.FieldError) -> JSONValue {
        guard let value = object[key] else { throw TunnelMessage.FieldError(description: "'\(path)\(key)' is missing") }
        return value
    }

    func string(_ key: String) throws(TunnelMessage.FieldError) -> String {
        guard let string = try value(key).stringValue else { throw failure(key, "a string") }
        return string
    }

    func optionalString(_ key: String) throws(TunnelMessage.FieldError) -> String? {
        guard let value = object[key], value != .null else { return nil }
        guard let string = value.stringValue else { throw failure(key, "a string") }
        return string
    }

    func int(_ key: String) throws(TunnelMessage.FieldError) -> Int {
        guard let int = Self.integer(try value(key)) else { throw failure(key, "an integer") }
        return int
    }

    func optionalInt(_ key: String) throws(TunnelMessage.FieldError) -> Int? {
        guard let value = object[key], value != .null else { return nil }
        guard let int = Self.integer(value) else { throw failure(key, "an integer") }
        return int
    }

    func strings(_ key: String) throws(TunnelMessage.FieldError) -> [String]? {
        guard let value = object[key], value != .null else { return nil }
        guard let elements = value.arrayValue else { throw failure(key, "an array of strings") }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for element in elements {
            guard let string = element.stringValue else { throw failure(key, "an array of strings") }
            strings.append(string)
        }
        return strings
    }

    func object(_ key: String) throws(TunnelMessage.FieldError) -> Fields? {
        guard let value = object[key], value != .null else { return nil }
        guard let members = value.objectValue else { throw failure(key, "an object") }
        return Fields(members, path: path + key + ".")
    }

    func kind() throws(TunnelMessage.FieldError) -> TunnelMessage.Infer.Kind {
        guard let kind = TunnelMessage.Infer.Kind(rawValue: try string("kind")) else { throw failure("kind", "chat or embeddings") }
        return kind
    }

    func toolCall() throws(TunnelMessage.FieldError) -> ToolCallDelta? {
        guard let call = try object("tool_call") else { return nil }
        return ToolCallDelta(
            index: try call.int("index"), id: try call.optionalString("id"), name: try call.optionalString("name"),
            arguments: try call.optionalString("arguments"))
    }

    func usage() throws(TunnelMessage.FieldError) -> Usage {
        guard let usage = try object("usage") else { throw failure("usage", "an object") }
        var decoded = Usage(promptTokens: try usage.int("prompt_tokens"), completionTokens: try usage.int("completion_tokens"))
        decoded.totalTokens = try usage.int("total_tokens")
        if let details = try usage.object("completion_tokens_details") {
            decoded.completionTokensDetails = .init(reasoningTokens: try details.int("reasoning_tokens"))
        }
        return decoded
    }

    /// An integer, or a number with no fraction that fits one (as `JSONDecoder` reads `5.0`).
    static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let int): int
        case .double(let double): Int(exactly: double)
        default: nil
        }
    }
}
