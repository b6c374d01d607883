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
    /// The reference: every byte predictable, so chunk boundaries, generated text, counts and key
    /// sets are exact and goldens' `loose` patches do not apply. Otherwise generated text and
    /// counts become type checks, `stop` may be `length`, `model` may be a dated snapshot of the
    /// mapped id (`gpt-4o-mini-2024-07-18`), streams are judged by framing, invariants and the
    /// reassembled message, and keys a golden does not list are warnings (the SDKs ignore them).
    public var exact: Bool
    /// Pointers left out of every comparison under this profile: fields OpenAI itself may send
    /// that the reference does not (usage details, fingerprints, service tier).
    public var masks: [String] = []
    /// Where a message's reasoning text may arrive, in order of preference:
    /// `reasoning_content` (DeepSeek, llama-server, the reference) or `reasoning` (vLLM, Ollama).
    /// The field a target used is reported in the case's notes.
    public var reasoningFields: [String] = ["reasoning_content"]
    public var divergences: [Divergence]

    public var exactChunks: Bool { exact }
    public var extraKeys: Mismatch.Severity { exact ? .fail : .warn }

    /// A known difference of a target: the cases (glob on ids), layer and pointer (glob), and what
    /// it shows instead. Declarations are narrow: a pointer, never `/**` over a whole layer.
    public struct Divergence: Sendable {
        public var cases: String
        public var layer: String
        public var pointer: String
        /// A regular expression the mismatch's actual value must match: what the target sends
        /// instead (`^200 ` for a status, `^"authentication_error"$`, `^\(absent\)$`).
        public var actual: String
        public var note: String
    }

    public static let reference = Profile(name: "reference", exact: true, divergences: [])
    /// Fields of OpenAI's own responses that the goldens (recorded from the reference) leave out:
    /// usage details, fingerprints, service tier, stream obfuscation, and a message's `annotations`
    /// (always `[]` from OpenAI) and `refusal` (null, or text when the model refuses).
    static let openAIExtras = [
        "/**/prompt_tokens_details", "/**/completion_tokens_details", "/**/system_fingerprint", "/**/service_tier", "/**/obfuscation",
        "/choices/*/message/annotations", "/choices/*/message/refusal",
    ]
    public static let openai = Profile(
        name: "openai", exact: false, masks: openAIExtras, reasoningFields: ["reasoning_content", "reasoning"], divergences: [])
    /// llama-server's divergences, each observed on a real llama-server (tools/conformance/llama.py
    /// runs it with deterministic and with default sampling) or read in its code. Each names what
    /// llama-server sends instead (`actual`, a regex on the reported value), so another answer at
    /// the same place — a proxy's, a regression's — still fails.
    public static let llamaCpp = Profile(
        name: "llama.cpp", exact: false, masks: openAIExtras, reasoningFields: ["reasoning_content", "reasoning"],
        divergences: [
            Divergence(cases: "*", layer: "body", pointer: "/timings", actual: "^\\{", note: "llama-server adds timings"),
            Divergence(cases: "chat.stream.*", layer: "invariants", pointer: "/*/timings", actual: "^\\{", note: "llama-server adds timings to chunks"),
            Divergence(cases: "*", layer: "body", pointer: "/choices/*/logprobs", actual: absent, note: "llama-server leaves out logprobs: null"),
            Divergence(
                cases: "chat.stream.*", layer: "invariants", pointer: "/*/choices/*/logprobs", actual: absent,
                note: "llama-server's chunks leave out logprobs: null"),
            Divergence(
                cases: "errors.*_api_key", layer: "body", pointer: "/error/type", actual: "^\"authentication_error\"$",
                note: "llama-server's 401 has type authentication_error"),
            Divergence(cases: "errors.empty_messages", layer: "status", pointer: "", actual: "^200 ", note: "llama-server answers an empty messages list (200)"),
            Divergence(cases: "errors.invalid_role", layer: "status", pointer: "", actual: "^200 ", note: "llama-server accepts an unknown role (200)"),
            Divergence(
                cases: "errors.stream_options_without_stream", layer: "status", pointer: "", actual: "^200 ",
                note: "llama-server ignores stream_options without stream (200)"),
            Divergence(cases: "errors.temperature_out_of_range", layer: "status", pointer: "", actual: "^200 ", note: "llama-server accepts temperature 3 (200)"),
            Divergence(
                cases: "errors.context_length_exceeded", layer: "body", pointer: "/error/type", actual: "^\"exceed_context_size_error\"$",
                note: "llama-server's context overflow has type exceed_context_size_error"),
            Divergence(cases: "models.retrieve", layer: "status", pointer: "", actual: "^404 ", note: "llama-server has no GET /v1/models/{id} (404)"),
            Divergence(
                cases: "models.retrieve_unknown", layer: "body", pointer: "/error/type", actual: "^\"not_found_error\"$",
                note: "llama-server's 404 has type not_found_error"),
            Divergence(cases: "errors.model_not_found", layer: "status", pointer: "", actual: "^200 ", note: "llama-server serves its one model whatever 'model' names (200)"),
            Divergence(cases: "embeddings.base64*", layer: "body", pointer: "/data/*/encoding_format", actual: "^\"base64\"$", note: "llama-server echoes encoding_format per item"),
            Divergence(cases: "embeddings.empty_input", layer: "status", pointer: "", actual: "^200 ", note: "llama-server embeds an empty string (200)"),
            Divergence(cases: "models.*", layer: "body", pointer: "/models", actual: "^\\[", note: "llama-server's /v1/models adds a 'models' list"),
            Divergence(cases: "*", layer: "body", pointer: "/error/param", actual: absent, note: "llama-server's errors have no param"),
            Divergence(cases: "*", layer: "body", pointer: "/error/code", actual: "^[0-9]+$", note: "llama-server's error codes are integers"),
            Divergence(cases: "chat.stream.*", layer: "reassembled", pointer: "/usage", actual: "^\\{", note: "llama-server sends usage without include_usage"),
            Divergence(
                cases: "chat.stream.*", layer: "reassembled", pointer: "/choices/0/message/role", actual: absent,
                note: "with default sampling, llama-server sends no role when the first piece is a multibyte character built from byte tokens"),
            Divergence(
                cases: "chat.stream.*", layer: "reassembled", pointer: "/choices/0/message/content", actual: "^null$",
                note: "with default sampling, when every token a short answer generates is a byte of an unfinished multibyte character, llama-server sends no content chunk at all (OpenAI starts with content \"\")"),
            Divergence(
                cases: "chat.stream.*", layer: "invariants", pointer: "/*/created", actual: "^[0-9]+$",
                note: "llama-server stamps each chunk with the current second: created changes when a stream crosses one (seen on this machine)"),
            Divergence(
                cases: "embeddings.*dimensions", layer: "semantics", pointer: "/data/0/embedding", actual: "^[0-9]+$",
                note: "llama-server ignores dimensions (the model's full width); through a Porten hub the engine's answer is passed on"),
        ])

    /// The reported value of something left out.
    static let absent = "^\\(absent\\)$"

    public static let all = [reference, openai, llamaCpp]

    public static func named(_ name: String) -> Profile? { all.first { $0.name == name } }

    /// The divergence that covers `mismatch` of `layer` in case `id`, if declared.
    public func declared(_ mismatch: Mismatch, layer: String, inCase id: String) -> Divergence? {
        divergences.first { divergence in
            divergence.layer == layer && Glob.matches(id, divergence.cases) && Matcher.pointer(mismatch.pointer, matches: divergence.pointer)
                && (try? Regex(divergence.actual)).map { mismatch.actual.contains($0) } == true
        }
    }

    /// Generated text and counts become type checks under `wildcardGeneratedText`.
    func relax(_ expected: JSON) -> JSON {
        guard !exact else { return expected }
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
            // OpenAI answers an alias with the dated snapshot it resolved to.
            if case .string(let model)? = members["model"], Placeholder.parse(model) == nil {
                members["model"] = .string("<REGEX:^\(Self.regexLiteral(model))(-[0-9]{4}-[0-9]{2}-[0-9]{2})?$>")
            }
            // A real model may run into its token limit where the reference stops.
            // (or, at OpenAI and Azure, be stopped by the content filter).
            if members["finish_reason"] == .string("stop") { members["finish_reason"] = .string("<REGEX:^(stop|length|content_filter)$>") }
            return .object(members.mapValues(relax))
        case .array(let elements): return .array(elements.map(relax))
        default: return expected
        }
    }
}

extension Profile {
    /// `text` with every character but letters and digits escaped, for a regex.
    static func regexLiteral(_ text: String) -> String {
        text.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? String($0) : $0.isASCII ? "\\\($0)" : String($0) }.joined()
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
