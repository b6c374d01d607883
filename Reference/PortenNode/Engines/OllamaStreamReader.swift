import OpenAIWire

/// Reads Ollama's streamed `/api/chat` answer (one JSON object per line) into engine events:
/// `message.content`, `message.thinking` as reasoning, `message.tool_calls` (whole calls, with
/// arguments as an object) as tool-call pieces; the last line's `done_reason` and counts end it.
struct OllamaStreamReader {
    private var lines = LineBuffer()
    private(set) var isDone = false
    private var finishReason = "stop"
    private var usage = Usage(promptTokens: 0, completionTokens: 0)
    private var calls = 0
    /// Prefix of the ids given to Ollama's calls (Ollama sends none); unique per request.
    let callIDPrefix: String

    init(callIDPrefix: String) { self.callIDPrefix = callIDPrefix }

    var outcome: ChatOutcome { ChatOutcome(finishReason: calls > 0 ? "tool_calls" : finishReason, usage: usage) }

    mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [ChatEvent] {
        var events: [ChatEvent] = []
        for line in lines.feed(bytes) where !isDone {
            guard !line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) else { continue }
            let object: JSONValue
            do {
                object = try JSONParser.parse(line)
            } catch {
                throw APIError.nodeError("Ollama sent a line that is not JSON: \(error).")
            }
            if let message = object["error"]?.stringValue { throw APIError.nodeError("Ollama failed: \(message)") }
            let message = object["message"]
            if let thinking = message?["thinking"]?.stringValue, !thinking.isEmpty { events.append(.reasoning(thinking)) }
            if let content = message?["content"]?.stringValue, !content.isEmpty { events.append(.content(content)) }
            for call in message?["tool_calls"]?.arrayValue ?? [] {
                let arguments = call["function"]?["arguments"].map(JSONText.compact) ?? "{}"
                events.append(.toolCall(.init(index: calls, id: "\(callIDPrefix)\(calls)", name: call["function"]?["name"]?.stringValue ?? "", arguments: "")))
                events.append(.toolCall(.init(index: calls, arguments: arguments)))
                calls += 1
            }
            if object["done"]?.boolValue == true {
                isDone = true
                if object["done_reason"]?.stringValue == "length" { finishReason = "length" }
                usage = Usage(promptTokens: object["prompt_eval_count"]?.intValue ?? 0, completionTokens: object["eval_count"]?.intValue ?? 0)
            }
        }
        return events
    }
}
