/// Layer 3 of a stream's judgement: the chunks merged into one message the way the SDKs do
/// (string fields concatenated, tool calls merged by `index`), plus the per-chunk invariants any
/// OpenAI-compatible stream must keep.
public enum Reassembler {
    /// `{"id","model","choices":[{"index","finish_reason","message":{…}}],"usage"}` from the chunks.
    public static func message(from chunks: [JSON]) -> JSON {
        var role: JSON = .null
        var content: String?
        var reasoning: String?
        var finishReason: JSON = .null
        var calls: [Int64: [String: JSON]] = [:]
        var usage: JSON = .null
        for chunk in chunks {
            if let found = chunk["usage"], found != .null { usage = found }
            for choice in chunk["choices"]?.array ?? [] {
                if let reason = choice["finish_reason"], reason != .null { finishReason = reason }
                guard let delta = choice["delta"] else { continue }
                if let value = delta["role"], value != .null { role = value }
                if let text = delta["content"]?.string { content = (content ?? "") + text }
                if let text = delta["reasoning_content"]?.string { reasoning = (reasoning ?? "") + text }
                for piece in delta["tool_calls"]?.array ?? [] {
                    let index = piece["index"]?.int ?? -1
                    var call = calls[index] ?? ["function": .object(["name": .string(""), "arguments": .string("")])]
                    if let id = piece["id"], id != .null { call["id"] = id }
                    if let type = piece["type"], type != .null { call["type"] = type }
                    var function = call["function"]?.object ?? [:]
                    for field in ["name", "arguments"] {
                        if let text = piece["function"]?[field]?.string { function[field] = .string((function[field]?.string ?? "") + text) }
                    }
                    call["function"] = .object(function)
                    calls[index] = call
                }
            }
        }
        var message: [String: JSON] = ["role": role, "content": content.map(JSON.string) ?? .null]
        if let reasoning { message["reasoning_content"] = .string(reasoning) }
        if !calls.isEmpty { message["tool_calls"] = .array(calls.sorted { $0.key < $1.key }.map { .object($0.value) }) }
        return .object([
            "id": chunks.first?["id"] ?? .null, "model": chunks.first?["model"] ?? .null, "usage": usage,
            "choices": .array([.object(["index": .int(0), "finish_reason": finishReason, "message": .object(message)])]),
        ])
    }

    /// Rules every chunk stream keeps, whatever the target: the chunk object type, one id for the
    /// whole stream, an `index` on every choice and tool-call piece, at most one usage chunk and
    /// with `choices: []`, as the last chunk; one finish reason (unless an error event ended the
    /// stream: `complete` false).
    public static func invariants(of chunks: [JSON], complete: Bool = true) -> [Mismatch] {
        var problems: [Mismatch] = []
        func add(_ index: Int, _ path: String, _ reason: String, _ actual: JSON?) {
            problems.append(Mismatch(pointer: "/\(index)\(path)", expected: "-", actual: actual?.description ?? "(absent)", reason: reason))
        }
        let firstID = chunks.first?["id"]
        var usageChunks: [Int] = []
        for (index, chunk) in chunks.enumerated() {
            if chunk["object"] != .string("chat.completion.chunk") { add(index, "/object", "every chunk's object is chat.completion.chunk", chunk["object"]) }
            if chunk["id"] != firstID { add(index, "/id", "the id changed within the stream", chunk["id"]) }
            if let usage = chunk["usage"], usage != .null {
                usageChunks.append(index)
                if chunk["choices"]?.array?.isEmpty != true { add(index, "/choices", "the usage chunk must have choices: []", chunk["choices"]) }
            }
            for (number, choice) in (chunk["choices"]?.array ?? []).enumerated() {
                if choice["index"]?.int == nil { add(index, "/choices/\(number)/index", "every choice has an integer index", choice["index"]) }
                for (piece, call) in (choice["delta"]?["tool_calls"]?.array ?? []).enumerated() where call["index"]?.int == nil {
                    add(index, "/choices/\(number)/delta/tool_calls/\(piece)/index", "every tool-call delta has an integer index", call["index"])
                }
            }
        }
        if usageChunks.count > 1 { add(usageChunks[1], "/usage", "more than one usage chunk", nil) }
        if let last = usageChunks.last, last != chunks.count - 1 { add(last, "/usage", "the usage chunk must be the last before [DONE]", nil) }
        let finishes = chunks.flatMap { ($0["choices"]?.array ?? []).compactMap { $0["finish_reason"] }.filter { $0 != .null } }
        if complete, finishes.count != 1 { add(chunks.count - 1, "/choices", "expected exactly one finish_reason in the stream, got \(finishes.count)", nil) }
        return problems
    }
}
