import Foundation
import NodeProtocol
import OpenAIWire
import Testing

/// The frames of every request have a hand-written reader and writer; they must agree with the
/// `Codable` ones on every frame, and refuse what those refuse.
struct TunnelCodecTests {
    static let frames: [TunnelMessage] = [
        .infer(.init(id: "r1", kind: .chat, model: "m", body: .object(["model": .string("m"), "temperature": .double(0.7), "n": .int(1),
                                                                         "messages": .array([.object(["role": .string("user"), "content": .string("héllo \"x\"\n\u{1}")])]),
                                                                         "stop": .null, "stream": .bool(false)]),
                     capabilities: ["tools", "json"], ctx: 8192)),
        .infer(.init(id: "r2", kind: .embeddings, model: "e", body: .object(["input": .array([.string("a"), .string("b")])]))),
        .delta(.init(id: "r1", content: "Hi 👋")),
        .delta(.init(id: "r1", reasoningContent: "think\t")),
        .delta(.init(id: "r1", content: "Hello there", reasoningContent: "hm", pieces: 3)),
        .delta(.init(id: "r1", toolCall: .init(index: 1, id: "call_1", name: "get_weather", arguments: "{\"city\":"))),
        .delta(.init(id: "r1", toolCall: .init(index: 0, arguments: "}"))),
        .end(.init(id: "r1", finishReason: "stop", usage: .init(promptTokens: 3, completionTokens: 4))),
        .end(.init(id: "r1", finishReason: nil, usage: .init(promptTokens: 3, completionTokens: 4, reasoningTokens: 2))),
        .delta(.init(id: "r1", content: "Hello", pieces: 2, heldMS: 12)),
        .end(.init(id: "r1", finishReason: "stop", usage: .init(promptTokens: 3, completionTokens: 4),
                   last: .init(id: "r1", content: "Hello \"you\"", reasoningContent: "hm", pieces: 3, heldMS: 7))),
        .end(.init(id: "r1", finishReason: "length", usage: .init(promptTokens: 3, completionTokens: 1), last: .init(id: "r1", content: ""))),
    ]

    @Test(arguments: frames)
    func handWrittenAndCodableAgree(_ frame: TunnelMessage) throws {
        let text = try frame.encodedText()
        #expect(try TunnelMessage(text: text) == frame)
        #expect(try JSONDecoder().decode(TunnelMessage.self, from: Data(text.utf8)) == frame)
        let codableText = String(decoding: try JSONEncoder().encode(frame), as: UTF8.self)
        #expect(try TunnelMessage(text: codableText) == frame)
        #expect(try JSONParser.parse(text) == JSONParser.parse(codableText))
    }

    @Test(arguments: [
        #"{"type":"delta"}"#,
        #"{"type":"delta","id":5}"#,
        #"{"type":"delta","id":"r","content":7}"#,
        #"{"type":"delta","id":"r","content":"x","pieces":"2"}"#,
        #"{"type":"delta","id":"r","content":"x","pieces":2.5}"#,
        #"{"type":"delta","id":"r","tool_call":{"id":"x"}}"#,
        #"{"type":"delta","id":"r","tool_call":{"index":1.5}}"#,
        #"{"type":"delta","id":"r","tool_call":[]}"#,
        #"{"type":"end","id":"r"}"#,
        #"{"type":"end","id":"r","usage":{"prompt_tokens":1,"completion_tokens":2}}"#,
        #"{"type":"end","id":"r","usage":{"prompt_tokens":1e300,"completion_tokens":2,"total_tokens":3}}"#,
        #"{"type":"end","id":"r","finish_reason":1,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        #"{"type":"end","id":"r","content":5,"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        #"{"type":"end","id":"r","content":"x","pieces":"2","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#,
        #"{"type":"delta","id":"r","content":"x","held_ms":0.5}"#,
        #"{"type":"infer","id":"r","kind":"audio","model":"m","body":{}}"#,
        #"{"type":"infer","id":"r","kind":"chat","model":"m"}"#,
        #"{"type":"infer","id":"r","kind":"chat","model":"m","body":{},"capabilities":[1]}"#,
        #"{"type":"delta","id":"r"} trailing"#,
    ])
    func malformedFramesAreRefusedByBothReaders(_ text: String) {
        #expect(throws: (any Error).self) { try TunnelMessage(text: text) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(TunnelMessage.self, from: Data(text.utf8)) }
    }

    @Test func optionalFieldsMayBeNullOrAbsentAndIntegersIntegral() throws {
        let delta = try TunnelMessage(text: #"{"type":"delta","id":"r","content":null,"tool_call":{"index":2.0,"name":null}}"#)
        #expect(delta == .delta(.init(id: "r", toolCall: .init(index: 2))))
        let infer = try TunnelMessage(text: #"{"type":"infer","id":"r","kind":"chat","model":"m","body":{"a":[1]},"ctx":null}"#)
        #expect(infer == .infer(.init(id: "r", kind: .chat, model: "m", body: .object(["a": .array([.int(1)])]))))
    }

    @Test func whatOnlyJSONDecoderReadsIsStillRead() throws {
        // Duplicate keys (the strict parser refuses them) and the most negative integer as a double.
        let duplicated = #"{"type":"delta","id":"r","id":"r","content":"x"}"#
        #expect(try TunnelMessage(text: duplicated) == JSONDecoder().decode(TunnelMessage.self, from: Data(duplicated.utf8)))
        let lowest = #"{"type":"delta","id":"r","tool_call":{"index":-9223372036854775808.0}}"#
        #expect(try TunnelMessage(text: lowest) == .delta(.init(id: "r", toolCall: .init(index: .min))))
    }

    @Test func aRequestBodyAsDeepAsTheHubAcceptsFitsInAFrame() throws {
        var body = JSONValue.int(1)
        for _ in 1..<JSONParser.defaultMaximumDepth { body = .array([body]) }
        let frame = TunnelMessage.infer(.init(id: "r", kind: .chat, model: "m", body: .object(["x": body])))
        #expect(try TunnelMessage(text: frame.encodedText()) == frame)
    }
}
