import OpenAIWire

/// The sim engine's JSON output (docs/sim-engine.md): an instance of a JSON Schema built from the
/// request's text, so JSON mode, `json_schema` and tool arguments are predictable and valid.
public enum SimJSON {
    /// An instance of `schema` whose strings are `text` and whose numbers are `number`.
    ///
    /// `const`, then the first of `enum`, then the first branch of `anyOf`/`oneOf`/`allOf`; by
    /// `type` (the first non-null one of a list): object → every property, keys sorted;
    /// array → `minItems` items (at least one unless `maxItems` is 0); string → `text` cut to
    /// `maxLength`; integer and number → `number` within `minimum`…`maximum`; boolean → true;
    /// null → null. No schema, or nothing to go by → `text`.
    public static func instance(of schema: JSONValue?, text: String, number: Int) -> JSONValue {
        guard case .object(let rule)? = schema else { return .string(text) }
        if let constant = rule["const"] { return constant }
        if case .array(let options)? = rule["enum"], let first = options.first { return first }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            if case .array(let branches)? = rule[combinator], let first = branches.first {
                return instance(of: first, text: text, number: number)
            }
        }
        switch type(of: rule) {
        case "object":
            guard case .object(let properties)? = rule["properties"] else { return .object([:]) }
            return .object(properties.mapValues { instance(of: $0, text: text, number: number) })
        case "array":
            let minimum = rule["minItems"]?.intValue ?? 1
            let count = min(max(minimum, 1), rule["maxItems"]?.intValue ?? Int.max)
            return .array(Array(repeating: instance(of: rule["items"], text: text, number: number), count: count))
        case "string":
            guard let limit = rule["maxLength"]?.intValue, text.count > limit else { return .string(text) }
            return .string(String(text.prefix(limit)))
        case "integer", "number":
            var value = number
            if let minimum = rule["minimum"]?.doubleValue { value = max(value, Int(minimum.rounded(.up))) }
            if let maximum = rule["maximum"]?.doubleValue { value = min(value, Int(maximum.rounded(.down))) }
            return .int(value)
        case "boolean": return .bool(true)
        case "null": return .null
        default: return .string(text)
        }
    }

    /// The schema's type: `type`, the first non-null entry of a `type` list, or `object` when it
    /// only lists `properties`.
    private static func type(of rule: [String: JSONValue]) -> String? {
        switch rule["type"] {
        case .string(let type)?: return type
        case .array(let types)?: return types.compactMap(\.stringValue).first { $0 != "null" } ?? "null"
        default: return rule["properties"] != nil ? "object" : nil
        }
    }
}
