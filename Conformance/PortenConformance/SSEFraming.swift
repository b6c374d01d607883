import Foundation

/// Layer 1 of a stream's judgement: the framing bytes. Each event is one `data: ` line followed by
/// a blank line; `data: [DONE]` is the last event and nothing follows it; no `event:`, `id:` or
/// `retry:` fields. Comment lines (`: keep-alive`) are tolerated, as the SDKs skip them.
public enum SSEFraming {
    public struct Result: Sendable {
        /// The payloads after `data: `, `[DONE]` included, in order.
        public var payloads: [String]
        public var problems: [String]
    }

    public static func check(_ body: [UInt8]) -> Result {
        guard let text = String(validating: body, as: UTF8.self) else { return Result(payloads: [], problems: ["the stream is not valid UTF-8"]) }
        var payloads: [String] = []
        var problems: [String] = []
        if text.contains("\r") { problems.append("CR characters in the stream: events must be separated by \\n\\n") }
        var blocks = text.components(separatedBy: "\n\n")
        if blocks.last == "" {
            blocks.removeLast()
        } else {
            problems.append("the stream does not end with a blank line after its last event")
        }
        for (index, block) in blocks.enumerated() {
            let lines = block.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix(":") }
            if lines.isEmpty { continue }
            if lines.contains(where: \.isEmpty) || block.isEmpty {
                problems.append("event \(index): an empty line inside or between events")
                continue
            }
            for line in lines {
                for field in ["event:", "id:", "retry:"] where line.hasPrefix(field) {
                    problems.append("event \(index): a '\(field)' line (OpenAI streams carry data lines only)")
                }
            }
            let data = lines.filter { $0.hasPrefix("data:") }
            guard data.count == 1, let line = data.first else {
                problems.append("event \(index): expected exactly one 'data: ' line, got \(data.count)")
                continue
            }
            guard line.hasPrefix("data: ") else {
                problems.append("event \(index): 'data:' must be followed by one space")
                continue
            }
            payloads.append(String(line.dropFirst(6)))
        }
        if let done = payloads.firstIndex(of: "[DONE]") {
            if done != payloads.count - 1 { problems.append("events after data: [DONE]") }
        } else {
            problems.append("no data: [DONE] at the end")
        }
        return Result(payloads: payloads, problems: problems)
    }
}
