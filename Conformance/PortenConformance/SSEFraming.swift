/// Layer 1 of a stream's judgement: the framing bytes, decoded the way the official SDKs'
/// SSE decoders do (lines end in `\n`, `\r\n` or `\r`; a blank line ends an event; `data:` loses
/// one leading space; several `data:` lines join with `\n`; comments are skipped).
///
/// What OpenAI sends: one `data: ` line and a blank line per event, `\n` only, `data: [DONE]`
/// last. What breaks a client is a failure: an `event:` line (openai-python then hands the caller
/// `{data, event}` instead of a chunk), a last event without its blank line (never dispatched),
/// no `[DONE]`, events after it. What the SDKs decode the same is a warning: CR line endings,
/// `data:` without the space, `id:`/`retry:`/unknown fields, several data lines in one event,
/// extra blank lines.
public enum SSEFraming {
    public struct Result: Sendable {
        /// The payloads of the dispatched events, `[DONE]` included, in order.
        public var payloads: [String]
        public var problems: [Mismatch]
    }

    public static func check(_ body: [UInt8]) -> Result {
        guard let text = String(validating: body, as: UTF8.self) else {
            return Result(payloads: [], problems: [problem("the stream is not valid UTF-8")])
        }
        var problems: [Mismatch] = []
        var warned = Set<String>()
        func warn(_ reason: String) {
            if warned.insert(reason).inserted { problems.append(problem(reason, .warn)) }
        }
        if text.contains("\r") { warn("CR line endings: the SDKs accept them, OpenAI separates lines with \\n only") }
        var payloads: [String] = []
        var data: [String] = []
        var pending = false
        var inBlock = false
        var event = 0
        for line in lines(of: text) {
            if line.isEmpty {
                if pending {
                    if data.count > 1 { warn("several data lines in one event (the SDKs join them with \\n; OpenAI sends one)") }
                    if data.isEmpty { warn("an event without a data line") } else { payloads.append(data.joined(separator: "\n")) }
                } else if !inBlock {
                    warn("extra blank lines between events (skipped by the SDKs)")
                }
                data = []
                pending = false
                inBlock = false
                event += 1
                continue
            }
            inBlock = true
            if line.hasPrefix(":") { continue }
            pending = true
            let colon = line.firstIndex(of: ":")
            let field = colon.map { String(line[..<$0]) } ?? String(line)
            var value = colon.map { line[line.index(after: $0)...] } ?? ""
            if value.hasPrefix(" ") {
                value = value.dropFirst()
            } else if field == "data" {
                warn("'data:' without a space (the SDKs accept it; OpenAI writes 'data: ')")
            }
            switch field {
            case "data": data.append(String(value))
            case "event":
                problems.append(problem(
                    "event \(event): an 'event: \(value)' line: OpenAI's chat streams have none, and openai-python 1.x yields {data, event} instead of a chunk"))
            case "id", "retry": warn("'\(field):' lines (ignored by the SDKs; OpenAI streams carry data lines only)")
            default: warn("an unknown SSE field '\(field)' (ignored by the SDKs)")
            }
        }
        if pending {
            problems.append(problem("the stream does not end with a blank line after its last event: the SDKs never dispatch that event"))
        }
        if let done = payloads.firstIndex(of: "[DONE]") {
            if done != payloads.count - 1 { problems.append(problem("events after data: [DONE]")) }
        } else {
            problems.append(problem("no data: [DONE] at the end"))
        }
        return Result(payloads: payloads, problems: problems)
    }

    /// Lines split at `\r\n`, `\r` or `\n`; a terminator at the very end opens no extra line.
    static func lines(of text: String) -> [Substring] {
        var lines: [Substring] = []
        var start = text.startIndex
        var index = text.startIndex
        // `\r\n` is one Character in Swift, so walking Characters splits all three the same.
        while index < text.endIndex {
            let character = text[index]
            if character == "\n" || character == "\r" || character == "\r\n" {
                lines.append(text[start..<index])
                start = text.index(after: index)
            }
            index = text.index(after: index)
        }
        if start < text.endIndex { lines.append(text[start...]) }
        return lines
    }

    private static func problem(_ reason: String, _ severity: Mismatch.Severity = .fail) -> Mismatch {
        Mismatch(pointer: "", expected: "SSE framing", actual: "-", reason: reason, severity: severity)
    }
}
