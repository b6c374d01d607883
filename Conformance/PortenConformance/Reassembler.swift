/// A stream's chunks as the official SDK sees them: merged exactly as openai-python's
/// `ChatCompletionStreamState` does (`lib/streaming/chat/_completions.py`, `accumulate_delta` in
/// `lib/streaming/_deltas.py`), plus the per-chunk rules a stream must keep so that merge gives
/// the right message.
public enum Reassembler {
    /// `{"id","model","created","usage","choices":[{"index","finish_reason","message":{…}}]}`.
    /// `id`, `created` and `model` come from the first chunk only and `usage` from the last, as in
    /// the SDK; each choice's message is its deltas folded with `accumulate`. The `index` keys the
    /// SDK keeps inside tool calls are dropped (they are not part of a message's tool call).
    public static func message(from chunks: [JSON]) -> JSON {
        var messages: [Int64: [String: JSON]] = [:]
        var finishReasons: [Int64: JSON] = [:]
        var usage: JSON = .null
        for chunk in chunks {
            usage = chunk["usage"] ?? .null
            for choice in chunk["choices"]?.array ?? [] {
                guard let index = choice["index"]?.int else { continue }
                if let reason = choice["finish_reason"], reason != .null { finishReasons[index] = reason }
                let delta = choice["delta"]?.object ?? [:]
                messages[index] = messages[index].map { accumulate($0, delta) } ?? delta
            }
        }
        let choices: [JSON] = messages.keys.sorted().map { index in
            var message = messages[index]!
            if message["content"] == nil { message["content"] = .null }
            if case .array(let calls)? = message["tool_calls"] {
                message["tool_calls"] = .array(calls.map { call in
                    guard var members = call.object else { return call }
                    members["index"] = nil
                    return .object(members)
                })
            }
            return .object(["index": .int(index), "finish_reason": finishReasons[index] ?? .null, "message": .object(message)])
        }
        let first = chunks.first
        return .object([
            "id": first?["id"] ?? .null, "model": first?["model"] ?? .null, "created": first?["created"] ?? .null, "usage": usage,
            "choices": .array(choices),
        ])
    }

    /// openai-python's `accumulate_delta`: a key first seen (or null so far) takes the delta's
    /// value; `index` and `type` are replaced; strings concatenate (so a repeated tool-call `id`
    /// becomes `call_1call_1`); numbers add; objects merge recursively; lists of scalars extend and
    /// lists of objects merge entry by entry at the position their `index` names (inserted when
    /// that position does not exist yet); anything else keeps what it had.
    public static func accumulate(_ accumulated: [String: JSON], _ delta: [String: JSON]) -> [String: JSON] {
        var result = accumulated
        for (key, value) in delta.sorted(by: { $0.key < $1.key }) {
            guard let current = result[key], current != .null else {
                result[key] = value
                continue
            }
            if key == "index" || key == "type" {
                result[key] = value
                continue
            }
            switch (current, value) {
            case (.string(let old), .string(let new)): result[key] = .string(old + new)
            case (.int(let old), .int(let new)): result[key] = .int(old &+ new)
            case (.object(let old), .object(let new)): result[key] = .object(accumulate(old, new))
            case (.array(var old), .array(let new)):
                if old.allSatisfy({ ["string", "integer", "number"].contains($0.typeName) }) {
                    old += new
                } else {
                    for entry in new {
                        guard let members = entry.object, let position = members["index"]?.int.map(Int.init) else { continue }
                        if position >= 0, position < old.count, let existing = old[position].object {
                            old[position] = .object(accumulate(existing, members))
                        } else {
                            old.insert(entry, at: max(0, min(position, old.count)))
                        }
                    }
                }
                result[key] = .array(old)
            default:
                if let old = current.number, let new = value.number { result[key] = .real(old + new) }
            }
        }
        return result
    }

    /// Rules every chunk stream keeps, whatever the target, each one a way the SDK's merge goes
    /// wrong otherwise: the chunk object type; one `id`, `created` and `model` for the stream;
    /// `choices` on every chunk, each choice with an integer `index` below `n` (in the first
    /// chunk, below its number of choices: openai-python indexes its list with it), a `delta`, and
    /// the `finish_reason` and `logprobs` keys; `role` on one delta per choice (a second one
    /// concatenates to `assistantassistant`); tool-call pieces with an integer `index`, new calls
    /// numbered 0, 1, 2… in order and carrying `id`, `type` and `function.name`, continuations
    /// carrying neither `id` nor `name` again (they would concatenate); at most one usage chunk,
    /// with `choices: []`, last; exactly one finish reason per choice (unless an error event ended
    /// the stream: `complete` false), one of OpenAI's values.
    public static func invariants(of chunks: [JSON], n: Int64 = 1, complete: Bool = true) -> [Mismatch] {
        var problems: [Mismatch] = []
        func add(_ index: Int, _ path: String, _ reason: String, _ actual: JSON?, _ severity: Mismatch.Severity = .fail) {
            problems.append(Mismatch(pointer: "/\(index)\(path)", expected: "-", actual: actual?.description ?? "(absent)", reason: reason, severity: severity))
        }
        var usageChunks: [Int] = []
        var changed = Set<String>()
        var roles: [Int64: Int] = [:]
        var calls: [Int64: Int64] = [:]
        var finishes: [Int64: Int] = [:]
        var seenIndexes = Set<Int64>()
        var badIndexes = Set<Int64>()
        var missingKeys = Set<String>()
        var extraKeys = Set<String>()
        var finished = Set<Int64>()
        var lateDeltas = Set<Int64>()
        for (index, chunk) in chunks.enumerated() {
            if chunk["object"] != .string("chat.completion.chunk") { add(index, "/object", "every chunk's object is chat.completion.chunk", chunk["object"]) }
            for (field, type) in [("id", "string"), ("created", "integer"), ("model", "string")] {
                if chunk[field]?.typeName != type, changed.insert(field).inserted {
                    add(index, "/\(field)", "every chunk's \(field) is a\(type == "integer" ? "n" : "") \(type)", chunk[field])
                } else if chunk[field] != chunks[0][field], changed.insert(field).inserted {
                    add(index, "/\(field)", "the \(field) changed within the stream (the SDK keeps the first chunk's)", chunk[field])
                }
            }
            for key in chunk.object?.keys.sorted() ?? [] where !Self.chunkKeys.contains(key) && extraKeys.insert(key).inserted {
                add(index, "/" + key, "a key OpenAI's chunks do not have (the SDKs ignore it)", chunk[key], .warn)
            }
            if let usage = chunk["usage"], usage != .null {
                usageChunks.append(index)
                if chunk["choices"]?.array?.isEmpty != true { add(index, "/choices", "the usage chunk must have choices: []", chunk["choices"]) }
            }
            guard let choices = chunk["choices"]?.array else {
                add(index, "/choices", "every chunk has a choices array", chunk["choices"])
                continue
            }
            for (number, choice) in choices.enumerated() {
                let at = "/choices/\(number)"
                guard let choiceIndex = choice["index"]?.int else {
                    add(index, at + "/index", "every choice has an integer index", choice["index"])
                    continue
                }
                seenIndexes.insert(choiceIndex)
                if index == 0, choiceIndex >= Int64(choices.count) || choiceIndex < 0 {
                    badIndexes.insert(choiceIndex)
                    add(index, at + "/index", "the first chunk's choice index \(choiceIndex) is past its \(choices.count) choices: openai-python's stream helper raises IndexError", choice["index"])
                } else if choiceIndex < 0 || choiceIndex >= n, badIndexes.insert(choiceIndex).inserted {
                    add(index, at + "/index", "a choice index outside 0…\(n - 1) for n = \(n)", choice["index"])
                }
                // Once per stream: the first chunk that leaves a key out stands for the rest.
                if choice["finish_reason"] == nil, missingKeys.insert("finish_reason").inserted {
                    add(index, at + "/finish_reason", "every chunk choice carries the 'finish_reason' key, null until set (OpenAI's chunk schema requires it)", nil)
                }
                if choice["logprobs"] == nil, missingKeys.insert("logprobs").inserted {
                    add(index, at + "/logprobs", "a chunk choice without 'logprobs' (OpenAI sends null; optional in its schema and the SDK)", nil, .warn)
                }
                for key in choice.object?.keys.sorted() ?? [] where !Self.choiceKeys.contains(key) && extraKeys.insert("choice." + key).inserted {
                    add(index, at + "/" + key, "a key OpenAI's chunk choices do not have (the SDKs ignore it)", choice[key], .warn)
                }
                if let reason = choice["finish_reason"], reason != .null {
                    finishes[choiceIndex, default: 0] += 1
                    if !Semantics.finishReasons.contains(reason.string ?? "") { add(index, at + "/finish_reason", "not one of OpenAI's finish reasons", reason) }
                }
                guard let delta = choice["delta"]?.object else {
                    add(index, at + "/delta", "every chunk choice has a delta object", choice["delta"])
                    continue
                }
                for key in ["role", "content", "refusal", "reasoning_content", "reasoning"] where delta[key].map({ $0 != .null && $0.string == nil }) ?? false {
                    add(index, at + "/delta/" + key, "a delta's \(key) is a string or null", delta[key])
                }
                if finished.contains(choiceIndex), delta.values.contains(where: { $0 != .null && $0 != .string("") }), lateDeltas.insert(choiceIndex).inserted {
                    add(index, at + "/delta", "a delta after this choice's finish_reason: the SDK's stream helper has already ended the message", .object(delta))
                }
                if let reason = choice["finish_reason"], reason != .null { finished.insert(choiceIndex) }
                if let role = delta["role"], role != .null {
                    roles[choiceIndex, default: 0] += 1
                    if roles[choiceIndex] == 2 { add(index, at + "/delta/role", "role on a second delta: the SDK concatenates it ('assistantassistant')", role) }
                }
                for (piece, call) in (delta["tool_calls"]?.array ?? []).enumerated() {
                    let path = at + "/delta/tool_calls/\(piece)"
                    guard let callIndex = call["index"]?.int else {
                        add(index, path + "/index", "every tool-call delta has an integer index", call["index"])
                        continue
                    }
                    let seen = calls[choiceIndex] ?? 0
                    if callIndex == seen {
                        calls[choiceIndex] = seen + 1
                        for (key, value) in [("id", call["id"]), ("type", call["type"]), ("function/name", call["function"]?["name"])]
                        where value?.string?.isEmpty != false {
                            add(index, path + "/" + key, "a new tool call's first piece carries its \(key.replacingOccurrences(of: "function/", with: ""))", value)
                        }
                    } else if callIndex > seen || callIndex < 0 {
                        add(index, path + "/index", "tool call index \(callIndex) before index \(seen): the SDK merges pieces by list position", call["index"])
                    } else {
                        for (key, value) in [("id", call["id"]), ("function/name", call["function"]?["name"])] where value != nil && value != .null {
                            add(index, path + "/" + key, "a continuation piece repeats the call's \(key.replacingOccurrences(of: "function/", with: "")): the SDK concatenates it", value)
                        }
                    }
                }
            }
        }
        if usageChunks.count > 1 { add(usageChunks[1], "/usage", "more than one usage chunk", nil) }
        if let last = usageChunks.last, last != chunks.count - 1 {
            add(last, "/usage", "the usage chunk must be the last before [DONE] (the SDK keeps the last chunk's usage)", nil)
        }
        if complete {
            let indexes = seenIndexes.isEmpty ? [0] : seenIndexes
            for choice in indexes.sorted() where finishes[choice] != 1 {
                add(max(0, chunks.count - 1), "/choices", "expected exactly one finish_reason for choice \(choice), got \(finishes[choice] ?? 0)", nil)
            }
        }
        return problems
    }
}

extension Reassembler {
    /// The keys of OpenAI's chunk objects and their choices (openai-python's chunk types).
    static let chunkKeys: Set<String> = ["id", "object", "created", "model", "choices", "usage", "service_tier", "system_fingerprint", "obfuscation"]
    static let choiceKeys: Set<String> = ["index", "delta", "logprobs", "finish_reason"]
}

extension JSON {
    /// An integer or a real as a Double.
    var number: Double? {
        switch self {
        case .int(let int): Double(int)
        case .real(let real): real
        default: nil
        }
    }
}
