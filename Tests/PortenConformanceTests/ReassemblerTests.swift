import PortenConformance
import Testing

/// The reassembly is openai-python's, and the invariants catch each way a stream makes it go wrong.
struct ReassemblerTests {
    private func chunk(_ choices: String, id: String = "a", extra: String = "") throws -> JSON {
        try StrictJSON.parse(#"{"id":"\#(id)","object":"chat.completion.chunk","created":1,"model":"m"\#(extra),"choices":[\#(choices)]}"#)
    }

    private var toolStream: [JSON] {
        get throws {
            try [
                chunk(#"{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}"#),
                chunk(#"{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0","type":"function","function":{"name":"g","arguments":"{\"x\""}}]},"logprobs":null,"finish_reason":null}"#),
                chunk(#"{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"logprobs":null,"finish_reason":null}"#),
                chunk(#"{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}"#),
                chunk(#"{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}"#),
            ]
        }
    }

    @Test func toolCallsMergeByIndexAsTheSDKDoes() throws {
        let chunks = try toolStream
        let message = Reassembler.message(from: chunks)
        #expect(message["choices"]?[0]?["message"]?["tool_calls"] == (try StrictJSON.parse(
            #"[{"id":"c0","type":"function","function":{"name":"g","arguments":"{\"x\":1}"}},{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]"#)))
        #expect(message["choices"]?[0]?["message"]?["content"] == .null)
        #expect(message["choices"]?[0]?["finish_reason"] == .string("tool_calls"))
        #expect(Reassembler.invariants(of: chunks).isEmpty)
    }

    @Test func aRepeatedIDConcatenatesAndFails() throws {
        var chunks = try toolStream
        chunks[2] = try chunk(#"{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c0","type":"function","function":{"arguments":":1}"}}]},"logprobs":null,"finish_reason":null}"#)
        #expect(Reassembler.message(from: chunks)["choices"]?[0]?["message"]?["tool_calls"]?[0]?["id"] == .string("c0c0"))
        #expect(Reassembler.invariants(of: chunks).map(\.pointer) == ["/2/choices/0/delta/tool_calls/0/id"])
    }

    @Test(arguments: [
        // what the stream does wrong, the chunk to put in place of the role chunk, the pointer reported
        (#"{"index":1,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":null}"#, "/0/choices/0/index"),
        (#"{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null}"#, "/0/choices/0/finish_reason"),
        (#"{"index":0,"delta":{"role":"assistant","content":null},"finish_reason":null}"#, "/0/choices/0/logprobs"),
        (#"{"index":0,"logprobs":null,"finish_reason":null}"#, "/0/choices/0/delta"),
        (#"{"index":0,"delta":{"role":"assistant","content":42},"logprobs":null,"finish_reason":null}"#, "/0/choices/0/delta/content"),
        (#"{"index":0,"delta":{"role":"assistant","content":null},"logprobs":null,"finish_reason":"stop"}"#, "/1/choices/0/delta"),
    ])
    func eachBrokenChunkRuleIsReported(replacement: String, pointer: String) throws {
        var chunks = try toolStream
        chunks[0] = try chunk(replacement)
        #expect(Reassembler.invariants(of: chunks).map(\.pointer).contains(pointer))
    }

    @Test func createdIsAnIntegerOnEveryChunk() throws {
        var chunks = try toolStream
        chunks[2] = try StrictJSON.parse(chunks[2].description.replacingOccurrences(of: #""created":1"#, with: #""created":"1""#))
        #expect(Reassembler.invariants(of: chunks).map(\.reason) == ["every chunk's created is an integer"])
    }

    @Test func idCreatedAndModelStayTheSame() throws {
        var chunks = try toolStream
        chunks[1] = try StrictJSON.parse(chunks[1].description.replacingOccurrences(of: #""created":1"#, with: #""created":2"#))
        chunks[3] = try StrictJSON.parse(chunks[3].description.replacingOccurrences(of: #""model":"m""#, with: #""model":"m2""#))
        #expect(Reassembler.invariants(of: chunks).map(\.pointer) == ["/1/created", "/3/model"])
    }

    @Test func aSecondRoleAndAToolCallOutOfOrderAreReported() throws {
        var chunks = try toolStream
        chunks[2] = try chunk(#"{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"logprobs":null,"finish_reason":null}"#)
        chunks[3] = try chunk(#"{"index":0,"delta":{"tool_calls":[{"index":2,"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":null}"#)
        #expect(Reassembler.invariants(of: chunks).map(\.pointer) == ["/2/choices/0/delta/role", "/3/choices/0/delta/tool_calls/0/index"])
        #expect(Reassembler.message(from: chunks)["choices"]?[0]?["message"]?["role"] == .string("assistantassistant"))
    }

    @Test func usageIsTheLastChunksAndComesOnce() throws {
        let usage = try chunk("", extra: #","usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}"#)
        #expect(Reassembler.invariants(of: try toolStream + [usage]).isEmpty)
        #expect(Reassembler.message(from: try toolStream + [usage])["usage"]?["total_tokens"] == .int(3))
        #expect(Reassembler.invariants(of: try [usage] + toolStream).map(\.reason).contains { $0.contains("last before [DONE]") })
    }
}
