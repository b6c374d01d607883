import OpenAIWire
import Testing

struct ServerSentEventsTests {
    @Test func framesAndParsesBack() {
        var parser = ServerSentEvents.Parser()
        let wire = ServerSentEvents.frame(#"{"a":1}"#) + ServerSentEvents.done
        #expect(parser.feed(Array(wire.utf8)) == [#"{"a":1}"#, "[DONE]"])
    }

    @Test func toleratesWhatServersSendInTheWild() {
        var parser = ServerSentEvents.Parser()
        let wire = ": keep-alive\r\n\r\ndata:{\"a\":1}\r\n\r\ndata: line1\ndata: line2\n\n"
        var events: [String] = []
        for byte in wire.utf8 { events += parser.feed([byte]) }  // split at every byte
        #expect(events == [#"{"a":1}"#, "line1\nline2"])
    }
}
