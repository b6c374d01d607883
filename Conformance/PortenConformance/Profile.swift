/// How strictly a target is judged.
///
/// - `reference`: our Hub with sim nodes; every byte is predictable, so everything is exact,
///   chunk boundaries included.
/// - `openai`: any OpenAI-compatible server with a real model; structure is strict, generated
///   text, token counts and embedding values are wildcarded (and `stop` may be `length`), and streams are judged by
///   framing, invariants and the reassembled message instead of chunk boundaries.
/// - `llama.cpp`: as `openai`, with llama-server's known divergences declared: a mismatch that a
///   declaration covers is reported as a declared divergence, never hidden and never a pass.
public struct Profile: Sendable {
    public var name: String
    public var exactChunks: Bool
    public var wildcardGeneratedText: Bool
    /// Pointers left out of every comparison under this profile: fields OpenAI itself may send
    /// that the reference does not (usage details, fingerprints, service tier).
    public var masks: [String] = []
    public var divergences: [Divergence]

    /// A known difference of a target: the cases (glob on ids), layer and pointers (glob) it covers.
    public struct Divergence: Sendable {
        public var cases: String
        public var layer: String
        public var pointer: String
        public var note: String
    }

    public static let reference = Profile(name: "reference", exactChunks: true, wildcardGeneratedText: false, divergences: [])
    /// Fields of OpenAI's own responses that the goldens (recorded from the reference) leave out.
    static let openAIExtras = [
        "/**/prompt_tokens_details", "/**/completion_tokens_details", "/**/system_fingerprint", "/**/service_tier", "/**/obfuscation",
    ]
    public static let openai = Profile(name: "openai", exactChunks: false, wildcardGeneratedText: true, masks: openAIExtras, divergences: [])
    /// llama-server's divergences, from its own code and tests (research/conformance-anchors.md
    /// §2.1 and §3.E); to be confirmed on every run against a real llama-server.
    public static let llamaCpp = Profile(
        name: "llama.cpp", exactChunks: false, wildcardGeneratedText: true, masks: openAIExtras,
        divergences: [
            Divergence(cases: "*", layer: "body", pointer: "/**/timings", note: "llama-server adds timings"),
            Divergence(cases: "*", layer: "body", pointer: "/choices/*/logprobs", note: "llama-server leaves out logprobs: null"),
            Divergence(cases: "*", layer: "body", pointer: "/choices/*/message/refusal", note: "llama-server leaves out refusal: null"),
            Divergence(cases: "errors.invalid_api_key", layer: "body", pointer: "/error/type", note: "llama-server's 401 has type authentication_error"),
            Divergence(cases: "errors.model_not_found", layer: "status", pointer: "/**", note: "llama-server serves its one model whatever 'model' names"),
            Divergence(cases: "errors.model_not_found", layer: "body", pointer: "/**", note: "llama-server serves its one model whatever 'model' names"),
            Divergence(cases: "embeddings.base64", layer: "body", pointer: "/data/*/encoding_format", note: "llama-server echoes encoding_format per item"),
            Divergence(cases: "embeddings.empty_input", layer: "status", pointer: "/**", note: "llama-server embeds an empty string (200)"),
            Divergence(cases: "embeddings.empty_input", layer: "body", pointer: "/**", note: "llama-server embeds an empty string (200)"),
            Divergence(cases: "models.*", layer: "body", pointer: "/models", note: "llama-server's /v1/models adds a 'models' list"),
            Divergence(cases: "errors.*", layer: "body", pointer: "/error/param", note: "llama-server's errors have no param"),
            Divergence(cases: "errors.*", layer: "body", pointer: "/error/code", note: "llama-server's error codes are integers"),
            Divergence(cases: "chat.stream.*", layer: "reassembled", pointer: "/usage", note: "llama-server sends usage without include_usage"),
            Divergence(cases: "chat.n_greater_than_one", layer: "status", pointer: "/**", note: "llama-server supports n > 1 (200, n choices)"),
            Divergence(cases: "chat.n_greater_than_one", layer: "body", pointer: "/**", note: "llama-server supports n > 1 (200, n choices)"),
        ])

    public static let all = [reference, openai, llamaCpp]

    public static func named(_ name: String) -> Profile? { all.first { $0.name == name } }

    /// The divergence that covers `mismatch` of `layer` in case `id`, if declared.
    public func declared(_ mismatch: Mismatch, layer: String, inCase id: String) -> Divergence? {
        divergences.first { $0.layer == layer && Glob.matches(id, $0.cases) && Matcher.pointer(mismatch.pointer, matches: $0.pointer) }
    }

    /// Generated text and counts become type checks under `wildcardGeneratedText`.
    func relax(_ expected: JSON) -> JSON {
        guard wildcardGeneratedText else { return expected }
        switch expected {
        case .object(var members):
            for key in ["content", "reasoning_content", "arguments"] where members[key]?.string != nil {
                if Placeholder.parse(members[key]!.string!) == nil { members[key] = .string("<STR>") }
            }
            for key in ["prompt_tokens", "completion_tokens", "total_tokens", "reasoning_tokens"] where members[key]?.int != nil {
                members[key] = .string("<INT>")
            }
            // A real model's vectors are its own: their shape is checked, not their values.
            switch members["embedding"] {
            case .array?: members["embedding"] = .string("<ARR>")
            case .string(let text)? where Placeholder.parse(text) == nil: members["embedding"] = .string("<STR>")
            default: break
            }
            // A real model may run into its token limit where the reference stops.
            if members["finish_reason"] == .string("stop") { members["finish_reason"] = .string("<REGEX:^(stop|length)$>") }
            return .object(members.mapValues(relax))
        case .array(let elements): return .array(elements.map(relax))
        default: return expected
        }
    }
}

/// `*` matches any run of characters; everything else literally.
public enum Glob {
    public static func matches(_ text: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        guard parts.count > 1 else { return text == pattern }
        var rest = text[...]
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() {
            guard let range = rest.range(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last!)
    }
}
