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
    ///
    /// The work is bounded whatever the schema says: at most ``maximumValues`` values in all
    /// (arrays get fewer items once they are spent), nesting deeper than ``maximumDepth`` gives
    /// `null`, and out-of-range bounds (negative lengths, `1e300`) are clamped.
    public static func instance(of schema: JSONValue?, text: String, number: Int) -> JSONValue {
        var budget = Budget()
        return instance(of: schema, text: text, number: number, depth: 0, budget: &budget)
    }

    /// Values one instance may have in all.
    public static let maximumValues = 10_000
    /// Characters of text all the instance's strings may hold together (each string is the
    /// request's text, so ten thousand of them would otherwise multiply the prompt).
    public static let maximumText = 65_536

    /// What is left to spend on one instance.
    struct Budget {
        var values = SimJSON.maximumValues
        var text = SimJSON.maximumText

        /// `text`, cut to what is left, and spent.
        mutating func spend(_ text: String) -> String {
            let piece = text.count <= self.text ? text : String(text.prefix(self.text))
            self.text -= piece.count
            return piece
        }
    }
    /// Deepest nesting of an instance.
    public static let maximumDepth = 64

    private static func instance(of schema: JSONValue?, text: String, number: Int, depth: Int, budget: inout Budget) -> JSONValue {
        budget.values -= 1
        guard depth < maximumDepth, budget.values >= 0 else { return .null }
        guard case .object(let rule)? = schema else { return .string(budget.spend(text)) }
        if let constant = rule["const"] { return constant }
        if case .array(let options)? = rule["enum"], let first = options.first { return first }
        for combinator in ["anyOf", "oneOf", "allOf"] {
            if case .array(let branches)? = rule[combinator], let first = branches.first {
                return instance(of: first, text: text, number: number, depth: depth + 1, budget: &budget)
            }
        }
        switch type(of: rule) {
        case "object":
            guard case .object(let properties)? = rule["properties"] else { return .object([:]) }
            var object: [String: JSONValue] = [:]
            for (key, property) in properties.sorted(by: { $0.key < $1.key }) where budget.values > 0 {
                object[key] = instance(of: property, text: text, number: number, depth: depth + 1, budget: &budget)
            }
            return .object(object)
        case "array":
            let maximum = max(0, rule["maxItems"]?.intValue ?? Int.max)
            let wanted = min(max(rule["minItems"]?.intValue ?? 1, 1), maximum)
            var items: [JSONValue] = []
            while items.count < wanted, budget.values > 0 {
                items.append(instance(of: rule["items"], text: text, number: number, depth: depth + 1, budget: &budget))
            }
            return .array(items)
        case "string":
            guard let limit = rule["maxLength"]?.intValue, text.count > limit else { return .string(budget.spend(text)) }
            return .string(budget.spend(String(text.prefix(max(0, limit)))))
        case "integer", "number":
            var value = number
            if let minimum = rule["minimum"]?.doubleValue { value = max(value, Self.integer(minimum.rounded(.up))) }
            if let maximum = rule["maximum"]?.doubleValue { value = min(value, Self.integer(maximum.rounded(.down))) }
            return .int(value)
        case "boolean": return .bool(true)
        case "null": return .null
        default: return .string(budget.spend(text))
        }
    }

    /// `value` as an integer, clamped to what one can hold (a bound of `1e300` is a huge bound, not a trap).
    private static func integer(_ value: Double) -> Int {
        guard !value.isNaN else { return 0 }
        guard value > -9.0e18 else { return -9_000_000_000_000_000_000 }
        guard value < 9.0e18 else { return 9_000_000_000_000_000_000 }
        return Int(value)
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
