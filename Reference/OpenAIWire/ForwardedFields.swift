/// The fields of a validated request that go on to an OpenAI-compatible upstream, and nothing
/// else (docs/engines.md, "What the openai engine forwards"). The Hub validates only the fields
/// it knows; an unknown convenience field (`n_predict`, `grammar`, `lora`, `id_slot`,
/// `cache_prompt`, a message-level `image_url`) could bypass a bound or reach a server feature
/// the operator never offered, so it is left out, at every level.
public enum ForwardedFields {
    /// A chat body with only the documented fields.
    public static func chat(_ body: JSONValue) -> JSONValue { chatRule.apply(to: body) ?? .object([:]) }

    /// An embeddings body with only the documented fields.
    public static func embeddings(_ body: JSONValue) -> JSONValue { embeddingsRule.apply(to: body) ?? .object([:]) }

    /// What to keep of a value: all of it, or some keys of an object (with a rule per key), or the
    /// same rule for every element of an array.
    indirect enum Rule: Sendable {
        case any
        case object([String: Rule])
        case elements(Rule)
        /// An array of objects or a single value (`content`: a string or parts).
        case elementsOrValue(Rule)

        /// What is kept of `value`; nil when its shape is not the one the rule expects (fail
        /// closed: a value the Hub did not validate as such is dropped, not passed on).
        func apply(to value: JSONValue) -> JSONValue? {
            switch (self, value) {
            case (.any, _): return value
            case (.object(let keys), .object(let members)):
                var kept: [String: JSONValue] = [:]
                for (key, rule) in keys { if let member = members[key] { kept[key] = rule.apply(to: member) } }
                return .object(kept)
            case (.elements(let rule), .array(let elements)), (.elementsOrValue(let rule), .array(let elements)):
                return .array(elements.compactMap(rule.apply(to:)))
            case (.elementsOrValue, .string), (.elementsOrValue, .null): return value
            default: return nil
            }
        }
    }

    private static let function = Rule.object(["name": .any, "arguments": .any])
    private static let toolCall = Rule.object(["id": .any, "type": .any, "function": function])
    private static let contentPart = Rule.object(["type": .any, "text": .any, "image_url": .object(["url": .any, "detail": .any])])
    private static let message = Rule.object([
        "role": .any, "content": .elementsOrValue(contentPart), "name": .any, "tool_call_id": .any, "tool_calls": .elements(toolCall),
        "reasoning_content": .any,
    ])
    private static let tool = Rule.object([
        "type": .any, "function": .object(["name": .any, "description": .any, "parameters": .any, "strict": .any]),
    ])

    static let chatRule = Rule.object([
        "model": .any, "messages": .elements(message), "stream": .any, "stream_options": .object(["include_usage": .any]),
        "max_tokens": .any, "max_completion_tokens": .any, "stop": .any, "temperature": .any, "top_p": .any, "seed": .any,
        "presence_penalty": .any, "frequency_penalty": .any, "tools": .elements(tool), "tool_choice": .any,
        "parallel_tool_calls": .any, "response_format": .any, "user": .any, "metadata": .any,
    ])

    static let embeddingsRule = Rule.object(["model": .any, "input": .any, "dimensions": .any, "encoding_format": .any, "user": .any])
}
