/// Hand-written JSON text for the hot path (one SSE chunk per token), in OpenAI's key order.
public enum JSONText {
    /// `text` as a JSON string literal, quotes included.
    public static func quote(_ text: String) -> String {
        var result = "\""
        result.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\u{08}": result += "\\b"
            case "\u{0C}": result += "\\f"
            case "\u{00}"..."\u{1F}", "\u{2028}", "\u{2029}":
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// A `usage` object: `prompt_tokens`, `completion_tokens`, `total_tokens`[, details].
    public static func usage(_ usage: Usage) -> String {
        var text = "{\"prompt_tokens\":\(usage.promptTokens),\"completion_tokens\":\(usage.completionTokens),\"total_tokens\":\(usage.totalTokens)"
        if let details = usage.completionTokensDetails {
            text += ",\"completion_tokens_details\":{\"reasoning_tokens\":\(details.reasoningTokens)}"
        }
        return text + "}"
    }
}

extension JSONText {
    /// `value` as compact JSON with object keys sorted: one stable text for a value.
    public static func compact(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool(let bool): bool ? "true" : "false"
        case .int(let int): String(int)
        case .double(let double): double.isFinite ? "\(double)" : "null"
        case .string(let string): quote(string)
        case .array(let elements): "[" + elements.map(compact).joined(separator: ",") + "]"
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + compact($0.value) }.joined(separator: ",") + "}"
        }
    }
}
