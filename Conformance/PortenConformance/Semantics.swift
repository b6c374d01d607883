import Foundation

/// Checks of meaning that hold under every profile, from the request and the answer alone: what
/// an application relies on whatever the model says. A chat completion (a body, or a stream as
/// the SDK reassembles it) honours `n`, `stop`, the token limit, JSON modes and the declared
/// tools, and its usage adds up; an embeddings answer has one numeric vector per input, one
/// width, and its base64 form decodes to the float answer.
public enum Semantics {
    /// OpenAI's finish reasons.
    public static let finishReasons: Set<String> = ["stop", "length", "tool_calls", "content_filter", "function_call"]

    public static func chat(_ completion: JSON, request: JSON) -> [Mismatch] {
        var problems: [Mismatch] = []
        func add(_ pointer: String, _ reason: String, _ actual: JSON?, expected: String = "-") {
            problems.append(Mismatch(pointer: pointer, expected: expected, actual: actual.map(Matcher.show) ?? "(absent)", reason: reason))
        }
        let n = request["n"]?.int ?? 1
        let choices = completion["choices"]?.array ?? []
        var seen = Set<Int64>()
        let limit = request["max_completion_tokens"]?.int ?? request["max_tokens"]?.int
        for (position, choice) in choices.enumerated() {
            let at = "/choices/\(position)"
            if let index = choice["index"]?.int {
                if index < 0 || index >= n || !seen.insert(index).inserted {
                    add(at + "/index", "choice indexes are 0…\(n - 1), each once, for n = \(n)", choice["index"])
                }
            }
            let finish = choice["finish_reason"]?.string
            if finish.map({ !finishReasons.contains($0) }) ?? true {
                add(at + "/finish_reason", "a finished choice has one of OpenAI's finish reasons", choice["finish_reason"])
            }
            guard let message = choice["message"] else { continue }
            let content = message["content"]?.string
            let cut = finish == "length" || finish == "content_filter"
            for stop in stops(of: request) where content?.contains(stop) == true {
                add(at + "/message/content", "the content holds the stop sequence \(JSON.string(stop)): generation must end before it", message["content"])
            }
            if let content, !cut, message["refusal"]?.string == nil {
                problems += responseFormat(content, request: request, at: at + "/message/content")
            }
            problems += toolCalls(message, finish: finish, request: request, at: at, cut: cut)
        }
        problems += extras(completion)
        if let usage = completion["usage"], usage != .null {
            problems += self.usage(usage, parts: ["prompt_tokens", "completion_tokens"])
            if let limit, let used = usage["completion_tokens"]?.int, used > limit {
                add("/usage/completion_tokens", "more completion tokens than the request's limit of \(limit)", usage["completion_tokens"], expected: "≤ \(limit)")
            }
        }
        return problems
    }

    /// The fields profiles mask (OpenAI sends them, the reference does not) still have their
    /// types: `service_tier` and `system_fingerprint` strings or null, `annotations` an array,
    /// `refusal` a string or null, usage details objects of integers.
    static func extras(_ completion: JSON) -> [Mismatch] {
        var problems: [Mismatch] = []
        func check(_ pointer: String, _ value: JSON?, _ types: [String]) {
            if let value, !types.contains(value.typeName) {
                problems.append(Mismatch(pointer: pointer, expected: types.joined(separator: " or "), actual: Matcher.show(value), reason: "expected \(types.joined(separator: " or "))"))
            }
        }
        check("/service_tier", completion["service_tier"], ["string", "null"])
        check("/system_fingerprint", completion["system_fingerprint"], ["string", "null"])
        for (position, choice) in (completion["choices"]?.array ?? []).enumerated() {
            check("/choices/\(position)/message/annotations", choice["message"]?["annotations"], ["array"])
            check("/choices/\(position)/message/refusal", choice["message"]?["refusal"], ["string", "null"])
        }
        for key in ["prompt_tokens_details", "completion_tokens_details"] {
            guard let details = completion["usage"]?[key], details != .null else { continue }
            check("/usage/\(key)", details, ["object"])
            for (name, value) in details.object ?? [:] { check("/usage/\(key)/\(name)", value, ["integer", "null"]) }
        }
        return problems
    }

    /// `total_tokens` is the sum of `parts` (those present).
    static func usage(_ usage: JSON, parts: [String]) -> [Mismatch] {
        guard let total = usage["total_tokens"]?.int else {
            return [Mismatch(pointer: "/usage/total_tokens", expected: "an integer", actual: usage["total_tokens"]?.description ?? "(absent)", reason: "usage has an integer total_tokens")]
        }
        let values = parts.compactMap { usage[$0] }
        guard values.allSatisfy({ $0.int.map { $0 >= 0 } ?? false }) else {
            return [Mismatch(pointer: "/usage", expected: "non-negative integers", actual: Matcher.show(usage), reason: "token counts are non-negative integers")]
        }
        let sum = values.compactMap(\.int).reduce(0, +)
        return sum == total ? [] : [
            Mismatch(pointer: "/usage/total_tokens", expected: "\(sum) (\(parts.joined(separator: " + ")))", actual: "\(total)", reason: "total_tokens is not the sum of its parts")
        ]
    }

    static func stops(of request: JSON) -> [String] {
        switch request["stop"] {
        case .string(let stop)?: stop.isEmpty ? [] : [stop]
        case .array(let stops)?: stops.compactMap(\.string).filter { !$0.isEmpty }
        default: []
        }
    }

    /// JSON mode: the content is a JSON object; json_schema: it validates against the schema.
    static func responseFormat(_ content: String, request: JSON, at pointer: String) -> [Mismatch] {
        let format = request["response_format"]
        let type = format?["type"]?.string
        guard type == "json_object" || type == "json_schema" else { return [] }
        guard let value = try? StrictJSON.parse(content) else {
            return [Mismatch(pointer: pointer, expected: "JSON text", actual: Matcher.show(.string(content)), reason: "response_format \(type!) asks for JSON; the content does not parse")]
        }
        if type == "json_object" {
            return value.object != nil ? [] : [Mismatch(pointer: pointer, expected: "a JSON object", actual: value.typeName, reason: "JSON mode answers an object")]
        }
        guard let schema = format?["json_schema"]?["schema"] else { return [] }
        return JSONSchema(root: schema).validate(value).map {
            Mismatch(pointer: pointer + $0.pointer, expected: "valid against the request's json_schema", actual: $0.actual, reason: $0.reason)
        }
    }

    static func toolCalls(_ message: JSON, finish: String?, request: JSON, at pointer: String, cut: Bool) -> [Mismatch] {
        var problems: [Mismatch] = []
        func add(_ path: String, _ reason: String, _ actual: JSON?) {
            problems.append(Mismatch(pointer: pointer + path, expected: "-", actual: actual.map(Matcher.show) ?? "(absent)", reason: reason))
        }
        var tools: [String: JSON] = [:]
        for tool in request["tools"]?.array ?? [] {
            if let name = tool["function"]?["name"]?.string { tools[name] = tool["function"]?["parameters"] ?? .object([:]) }
        }
        let calls = message["tool_calls"]?.array ?? []
        let choice = request["tool_choice"]
        if choice == .string("none"), !calls.isEmpty { add("/message/tool_calls", "tool_choice none, yet the answer calls tools", message["tool_calls"]) }
        if choice == .string("required"), calls.isEmpty, !cut { add("/message/tool_calls", "tool_choice required, yet no tool call", message["tool_calls"]) }
        if request["parallel_tool_calls"] == .bool(false), calls.count > 1 {
            add("/message/tool_calls", "parallel_tool_calls false allows one call, got \(calls.count)", nil)
        }
        if finish == "tool_calls", calls.isEmpty { add("/finish_reason", "finish_reason tool_calls without any tool call", .string("tool_calls")) }
        var ids = Set<String>()
        for (number, call) in calls.enumerated() {
            let at = "/message/tool_calls/\(number)"
            if let id = call["id"]?.string, !ids.insert(id).inserted { add(at + "/id", "two tool calls share an id: tool results are matched by id", call["id"]) }
            if call["type"] != .string("function") { add(at + "/type", "a tool call's type is function", call["type"]) }
            let name = call["function"]?["name"]?.string ?? ""
            guard let parameters = tools[name] else {
                add(at + "/function/name", "calls a tool the request did not declare", call["function"]?["name"])
                continue
            }
            if case .object(let named)? = choice, let wanted = named["function"]?["name"]?.string, wanted != name {
                add(at + "/function/name", "tool_choice names \(JSON.string(wanted))", call["function"]?["name"])
            }
            guard !cut, let text = call["function"]?["arguments"]?.string else {
                if !cut { add(at + "/function/arguments", "arguments are a string of JSON", call["function"]?["arguments"]) }
                continue
            }
            guard let arguments = try? StrictJSON.parse(text) else {
                add(at + "/function/arguments", "the arguments are not JSON: the application cannot json.loads them", .string(text))
                continue
            }
            for problem in JSONSchema(root: parameters).validate(arguments) {
                problems.append(
                    Mismatch(pointer: pointer + at + "/function/arguments" + problem.pointer, expected: "valid against the tool's parameters", actual: problem.actual,
                             reason: problem.reason))
            }
        }
        return problems
    }

    /// Checks an embeddings answer; `floats` is the float answer to the same request when this
    /// one was base64.
    public static func embeddings(_ response: JSON, request: JSON, floats: JSON? = nil) -> [Mismatch] {
        var problems: [Mismatch] = []
        func add(_ pointer: String, _ reason: String, _ actual: String, expected: String = "-") {
            problems.append(Mismatch(pointer: pointer, expected: expected, actual: actual, reason: reason))
        }
        guard let data = response["data"]?.array else { return [Mismatch(pointer: "/data", expected: "an array", actual: response["data"]?.description ?? "(absent)", reason: "no data array")] }
        let inputs = inputCount(request["input"])
        if let inputs, data.count != inputs { add("/data", "one embedding per input: \(inputs) inputs", "\(data.count) embeddings", expected: "\(inputs)") }
        let base64 = request["encoding_format"] == .string("base64")
        var vectors: [[Double]] = []
        for (position, item) in data.enumerated() {
            let at = "/data/\(position)"
            if item["index"]?.int != Int64(position) { add(at + "/index", "data is in input order, index = position", item["index"]?.description ?? "(absent)", expected: "\(position)") }
            if let vector = base64 ? decodeBase64(item["embedding"]) : item["embedding"]?.array?.compactMap(\.number),
                base64 || vector.count == item["embedding"]?.array?.count
            {
                if vector.isEmpty { add(at + "/embedding", "an empty vector", "[]") }
                vectors.append(vector)
            } else {
                add(at + "/embedding", base64 ? "base64 that decodes to little-endian float32 values" : "an array of numbers", Matcher.show(item["embedding"] ?? .null))
            }
        }
        let widths = Set(vectors.map(\.count))
        if widths.count > 1 { add("/data", "every vector of one answer has the same width", "widths \(widths.sorted())") }
        if let dimensions = request["dimensions"]?.int, let width = widths.first, widths.count == 1, Int64(width) != dimensions {
            add("/data/0/embedding", "dimensions asks for \(dimensions) values", "\(width)", expected: "\(dimensions)")
        }
        if base64, let floats, let reference = floats["data"]?.array?.map({ $0["embedding"]?.array?.compactMap(\.number) ?? [] }), problems.isEmpty {
            for (position, (vector, float)) in zip(vectors, reference).enumerated() where !agree(vector, float) {
                add("/data/\(position)/embedding", "the base64 vector decodes to other values than the float answer to the same request",
                    "\(vector.prefix(3).map { String(format: "%.5f", $0) })… vs \(float.prefix(3).map { String(format: "%.5f", $0) })…")
            }
        }
        if let usage = response["usage"], usage != .null { problems += self.usage(usage, parts: ["prompt_tokens", "completion_tokens"]) }
        return problems
    }

    /// A model list: every entry has a string `id`, `object: "model"`, an integer `created` and a
    /// string `owned_by` (what openai-python's `Model` type requires).
    public static func models(_ response: JSON) -> [Mismatch] {
        guard let data = response["data"]?.array else { return [Mismatch(pointer: "/data", expected: "an array", actual: response["data"]?.description ?? "(absent)", reason: "no data array")] }
        var problems: [Mismatch] = []
        for (position, model) in data.enumerated() {
            for (key, type) in [("id", "string"), ("object", "string"), ("created", "integer"), ("owned_by", "string")] where model[key]?.typeName != type {
                problems.append(Mismatch(pointer: "/data/\(position)/\(key)", expected: "a \(type)", actual: model[key]?.description ?? "(absent)", reason: "a model entry has \(key)"))
            }
            if let object = model["object"], object != .string("model"), object.string != nil {
                problems.append(Mismatch(pointer: "/data/\(position)/object", expected: "\"model\"", actual: object.description, reason: "a model entry's object is model"))
            }
        }
        return problems
    }

    /// Inputs in an embeddings request: a string or a token list is one; a list of strings or of
    /// token lists, one each.
    static func inputCount(_ input: JSON?) -> Int? {
        switch input {
        case .string?: 1
        case .array(let items)? where !items.isEmpty && items.allSatisfy { $0.int != nil }: 1
        case .array(let items)?: items.count
        default: nil
        }
    }

    static func decodeBase64(_ value: JSON?) -> [Double]? {
        // Padded, as Python's base64 decoder (the SDK's) insists.
        guard let text = value?.string, text.count % 4 == 0, let data = Data(base64Encoded: text), data.count % 4 == 0 else { return nil }
        return stride(from: 0, to: data.count, by: 4).map { offset in
            let bits = UInt32(data[offset]) | UInt32(data[offset + 1]) << 8 | UInt32(data[offset + 2]) << 16 | UInt32(data[offset + 3]) << 24
            return Double(Float(bitPattern: bits))
        }
    }

    /// Same width and values within float32 rounding plus a little run-to-run noise.
    static func agree(_ a: [Double], _ b: [Double]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { abs($0 - $1) <= 1e-3 + 1e-3 * abs($1) }
    }
}
