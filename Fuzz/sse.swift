/// Fuzz target `sse`: arbitrary bytes as a Server-Sent Events stream, read by
/// `ServerSentEvents.Parser` (the node reads an upstream OpenAI-compatible engine's stream with
/// it), and arbitrary text as a payload framed by `ServerSentEvents.frame`.
///
/// Invariants:
/// - how the bytes are cut into `feed` calls does not change the events (the input's first byte
///   picks the cut points, so the fuzzer explores them);
/// - a JSON string literal of any text, framed with `frame`, reads back as exactly that one
///   event that parses back to the text, and `done` reads back as `[DONE]`.
import OpenAIWire

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    var whole = ServerSentEvents.Parser()
    let expected = whole.feed(bytes)
    var pieces = ServerSentEvents.Parser()
    var events: [String] = []
    let step = Int(bytes.first ?? 0) % 17 + 1
    var start = 0
    while start < size {
        let end = min(start + step + (start % 3), size)
        events += pieces.feed(bytes[start..<end])
        start = end
    }
    check(events == expected, "feeding in pieces of ~\(step) bytes changed the events: \(events) vs \(expected)")

    let text = String(decoding: bytes, as: UTF8.self)
    let payload = JSONText.quote(text)
    var framed = ServerSentEvents.Parser()
    let read = framed.feed((ServerSentEvents.frame(payload) + ServerSentEvents.done).utf8)
    check(read == [payload, "[DONE]"], "a framed payload read back as \(read), framed \(payload)")
    check((try? JSONParser.parse(payload)) == .string(text), "JSONText.quote wrote \(payload), which does not parse back")
    return 0
}

