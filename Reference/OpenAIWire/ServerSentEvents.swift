/// OpenAI's SSE framing: every event is `data: <compact JSON>\n\n` and the stream ends with
/// `data: [DONE]\n\n`. No `event:`, `id:` or `retry:` lines (WIRE-1, FRM-2…6).
public enum ServerSentEvents {
    public static let done = "data: [DONE]\n\n"

    /// Frames one JSON payload (which must be a single line, as compact JSON is).
    public static func frame(_ json: String) -> String { "data: \(json)\n\n" }

    /// Splits an SSE byte stream into the `data` payloads of its events. Tolerant as a client
    /// should be: accepts `data:` without a space, CRLF line ends, comments and multi-line data.
    public struct Parser: Sendable {
        private var lines = LineBuffer()
        private var dataLines: [String] = []

        public init() {}

        /// Feeds bytes; returns the payloads of every event completed by them.
        public mutating func feed(_ bytes: some Sequence<UInt8>) -> [String] {
            var events: [String] = []
            for var line in lines.feed(bytes) {
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                let text = String(decoding: line, as: UTF8.self)
                if text.isEmpty {
                    if !dataLines.isEmpty { events.append(dataLines.joined(separator: "\n")) }
                    dataLines.removeAll()
                } else if text.hasPrefix("data:") {
                    var value = text.dropFirst(5)
                    if value.first == " " { value = value.dropFirst() }
                    dataLines.append(String(value))
                }
            }
            return events
        }
    }
}
