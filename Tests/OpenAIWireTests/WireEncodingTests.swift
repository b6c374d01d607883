import Foundation
import OpenAIWire
import Testing

struct WireEncodingTests {
    private func json(_ value: some Encodable) throws -> JSONValue {
        try JSONParser.parse(try JSONEncoder().encode(value))
    }

    @Test func errorEnvelopeAlwaysHasFourKeysWithNulls() throws {
        let envelope = try json(APIError.invalidAPIKey().envelope)
        #expect(envelope["error"]?.objectValue?.keys.sorted() == ["code", "message", "param", "type"])
        #expect(envelope["error"]?["param"] == .null)
        #expect(envelope["error"]?["code"] == "invalid_api_key")
    }

    @Test func completionWritesNullRefusalAndLogprobsButOmitsAbsentReasoning() throws {
        let completion = ChatCompletion(
            id: "c", created: 1, model: "m", choices: [.init(message: .init(content: nil), finishReason: "stop")],
            usage: Usage(promptTokens: 2, completionTokens: 3))
        let value = try json(completion)
        let choice = try #require(value["choices"]?.arrayValue?.first)
        #expect(choice["logprobs"] == .null)
        #expect(choice["message"]?["content"] == .null)
        #expect(choice["message"]?["refusal"] == .null)
        #expect(choice["message"]?["reasoning_content"] == nil)
        #expect(value["usage"] == ["prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5])
        #expect(try JSONDecoder().decode(ChatCompletion.self, from: JSONEncoder().encode(completion)) == completion)
    }

    @Test(arguments: [
        ChatCompletion(id: "c", created: 1, model: "m", choices: [.init(message: .init(content: nil), finishReason: "stop")], usage: nil),
        ChatCompletion(
            id: "chatcmpl-\"x\"", created: 1_700_000_000, model: "ref/chat", choices: [
                .init(message: .init(content: "héllo\n\u{1}</script>", reasoningContent: "hmm"), finishReason: "length"),
                .init(index: 1, message: .init(content: nil, toolCalls: [.init(id: "call_1", name: "f", arguments: #"{"a":"\\"}"#)]),
                      finishReason: "tool_calls"),
            ], usage: Usage(promptTokens: 2, completionTokens: 3, reasoningTokens: 1)),
    ])
    func theHandWrittenCompletionIsTheEncodableOne(_ completion: ChatCompletion) throws {
        #expect(try JSONParser.parse(completion.jsonText) == json(completion))
        #expect(try JSONDecoder().decode(ChatCompletion.self, from: Data(completion.jsonText.utf8)) == completion)
    }

    @Test(arguments: [
        APIError.invalidRequest("Invalid type for 'messages': expected an array.", param: "messages", code: "invalid_type"),
        APIError(status: 401, message: "Incorrect API key provided: sk-\"x\\y\n\u{1}/é😀’.", type: "invalid_request_error", code: "invalid_api_key"),
        APIError(status: 503, message: "", type: "service_unavailable", retryAfter: 5),
    ])
    func theHandWrittenErrorIsTheEncodableOne(_ error: APIError) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(error.jsonText == String(decoding: try encoder.encode(error.envelope), as: UTF8.self))
        #expect(try JSONDecoder().decode(APIError.Envelope.self, from: Data(error.jsonText.utf8)) == error.envelope)
    }

    @Test func chunkOmitsAbsentDeltaFieldsAndUsage() throws {
        let chunk = ChatCompletionChunk(id: "c", created: 1, model: "m", choices: [.init(delta: .init(content: "hi"))])
        let value = try json(chunk)
        #expect(value["usage"] == nil)
        #expect(value["choices"]?.arrayValue?.first?["delta"] == ["content": "hi"])
        #expect(value["choices"]?.arrayValue?.first?["finish_reason"] == .null)
        #expect(try JSONDecoder().decode(ChatCompletionChunk.self, from: JSONEncoder().encode(chunk)) == chunk)
    }

    @Test func base64EmbeddingsAreLittleEndianFloat32() throws {
        let vector = EmbeddingResponse.Vector.base64(of: [1.0, -0.5])
        #expect(vector == .base64("AACAPwAAAL8="))
        #expect(vector.floats == [1.0, -0.5])
    }

    @Test func compactWritesNumbersAsJSONEncoderDoes() throws {
        let values: [JSONValue] = [.double(40), .double(-3), .double(0.5), .double(1e-7), .double(1e300), .double(-0.0), .int(7), .double(0x1p53)]
        for value in values {
            let encoder = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
            #expect(try JSONParser.parse(JSONText.compactForUpstream(value)) == JSONParser.parse(encoder), "\(value)")
            #expect(try JSONParser.parse(JSONText.compact(value)) == value, "\(value)")
        }
        let body = JSONValue.object(["top_k": .double(40), "temperature": .double(0.7)])
        #expect(JSONText.compactForUpstream(body) == #"{"temperature":0.7,"top_k":40}"#)
        #expect(JSONText.compact(body) == #"{"temperature":0.7,"top_k":40.0}"#)
    }

    @Test func jsonTextQuotesLikeAnEncoder() throws {
        for text in ["plain", "quote\" back\\slash", "line\nfeed\ttab", "\u{01}\u{1F}", "é😀", "\u{2028}", "’—…\u{2029}x", "\u{E2}", ""] {
            #expect(try JSONParser.parse(JSONText.quote(text)) == .string(text))
        }
        #expect(JSONText.quote("a\"b\\c\n\r\t\u{8}\u{C}\u{1}\u{1F}\u{7F}") == #""a\"b\\c\n\r\t\b\f\u0001\u001f\#u{7F}""#)
        #expect(JSONText.quote("’ \u{2028} \u{2029} €") == #""’ \u2028 \u2029 €""#)
        // Plain runs are copied whole: escapes at their edges, at the ends, and between long runs.
        let run = String(repeating: "x", count: 5_000)
        #expect(JSONText.quote(run + "\"" + run + "\u{2028}" + run + "\n") == "\"\(run)\\\"\(run)\\u2028\(run)\\n\"")
        #expect(JSONText.quote("\u{2029}…" + run + "’") == "\"\\u2029…\(run)’\"")
    }
}
