import OpenAIWire
import Testing

struct ChatCompletionRequestTests {
    private func validate(_ json: String) throws(APIError) -> ChatCompletionRequest {
        let body: JSONValue
        do { body = try JSONParser.parse(json) } catch { fatalError("bad fixture: \(error)") }
        return try ChatCompletionRequest(validating: body)
    }

    private func rejection(_ json: String) -> APIError? {
        do {
            _ = try validate(json)
            return nil
        } catch {
            return error
        }
    }

    @Test func acceptsAFullRequestAndKeepsUnknownFields() throws {
        let request = try validate(
            #"{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],"#
                + #""stream":true,"stream_options":{"include_usage":true},"max_tokens":5,"max_completion_tokens":7,"stop":"x","#
                + #""temperature":0.5,"seed":3,"user":"u","metadata":{"k":"v"},"some_future_param":{"x":1}}"#)
        #expect(request.model == "m")
        #expect(request.messages.map(\.role) == [.system, .user])
        #expect(request.messages[1].text == "a\nb")
        #expect(request.stream && request.includeUsage)
        #expect(request.maxTokens == 7)
        #expect(request.stop == ["x"])
        #expect(request.body["some_future_param"] == ["x": 1])
    }

    @Test(arguments: [
        (#"[]"#, nil as String?, nil as String?),
        (#"{"messages":[{"role":"user","content":"hi"}]}"#, "model", "missing_required_parameter"),
        (#"{"model":"m","messages":[]}"#, "messages", "empty_array"),
        (#"{"model":"m","messages":"hi"}"#, "messages", nil),
        (#"{"model":"m","messages":[{"role":"wizard","content":"hi"}]}"#, "messages[0].role", nil),
        (#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content", "missing_required_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]}"#, "messages[0].content[0].type", nil),
        (#"{"model":"m","messages":[{"role":"tool","content":"r"}]}"#, "messages[0].tool_call_id", "missing_required_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"5"}"#, "max_tokens", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2.5}"#, "max_tokens", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}"#, "max_tokens", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":3}"#, "temperature", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}"#, "n", "unsupported_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}"#, "stop", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}"#, "stream_options", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "stream", nil),
    ])
    func rejectsClientMistakesWithTheirParam(json: String, param: String?, code: String?) throws {
        let error = try #require(rejection(json))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.code == code)
        #expect(!error.message.isEmpty)
    }

    @Test func assistantMayOmitContentOnlyWithToolCalls() throws {
        _ = try validate(
            #"{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}]}"#)
        #expect(rejection(#"{"model":"m","messages":[{"role":"assistant","content":null}]}"#)?.param == "messages[0].content")
    }

    @Test func embeddingInputsAreValidated() throws {
        let ok = try EmbeddingRequest(validating: ["model": "e", "input": ["a", [1, 2]], "encoding_format": "base64"])
        #expect(ok.inputs == ["a", "1 2"])
        #expect(ok.encodingFormat == .base64)
        for bad: JSONValue in ["", [], [""], 3, [nil]] {
            #expect(throws: APIError.self) { try EmbeddingRequest(validating: ["model": "e", "input": bad]) }
        }
        #expect(throws: APIError.self) { try EmbeddingRequest(validating: ["model": "e", "input": "a", "encoding_format": "hex"]) }
    }
}
