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
        (#"{"model":5,"messages":[{"role":"user","content":"hi"}]}"#, "model", "invalid_type"),
        (#"{"model":"m","messages":"hi"}"#, "messages", "invalid_type"),
        (#"{"model":"m","messages":[{"role":"wizard","content":"hi"}]}"#, "messages[0].role", "invalid_value"),
        (#"{"model":"m","messages":[{"role":"user"}]}"#, "messages[0].content", "missing_required_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]}"#, "messages[0].content[0].type", "invalid_value"),
        (#"{"model":"m","messages":[{"role":"tool","content":"r"}]}"#, "messages[0].tool_call_id", "missing_required_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"5"}"#, "max_tokens", "invalid_type"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":2.5}"#, "max_tokens", "invalid_type"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":-1}"#, "max_tokens", "integer_below_min_value"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":3}"#, "temperature", "decimal_above_max_value"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"n":2}"#, "n", "unsupported_parameter"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}"#, "stop", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream_options":{"include_usage":true}}"#, "stream_options", nil),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#, "stream", "invalid_type"),
    ])
    func rejectsClientMistakesWithTheirParam(json: String, param: String?, code: String?) throws {
        let error = try #require(rejection(json))
        #expect(error.status == 400)
        #expect(error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.code == code)
        #expect(!error.message.isEmpty)
    }

    /// Bad top-level fields, each added to a valid `{"model":"m","messages":[user "hi"]}`.
    @Test(arguments: [
        (#""max_tokens":0"#, "max_tokens", "integer_below_min_value" as String?),
        (#""max_completion_tokens":99999999"#, "max_completion_tokens", "integer_above_max_value"),
        (#""temperature":"hot""#, "temperature", "invalid_type"),
        (#""top_p":1.5"#, "top_p", "decimal_above_max_value"),
        (#""presence_penalty":-3"#, "presence_penalty", "decimal_below_min_value"),
        (#""frequency_penalty":"x""#, "frequency_penalty", "invalid_type"),
        (#""seed":1.5"#, "seed", "invalid_type"),
        (#""n":0"#, "n", "integer_below_min_value"),
        (#""stop":["a",1]"#, "stop[1]", "invalid_type"),
        (#""stop":[]"#, "stop", nil),
        (#""stream":true,"stream_options":{"include_usage":"yes"}"#, "stream_options.include_usage", "invalid_type"),
        (#""user":42"#, "user", "invalid_type"),
        (#""metadata":{"k":1}"#, "metadata.k", "invalid_type"),
        (#""metadata":[]"#, "metadata", "invalid_type"),
        (#""tools":{}"#, "tools", "invalid_type"),
        (#""tools":[{"type":"code","function":{"name":"f"}}]"#, "tools[0].type", nil),
        (#""tools":[{"type":"function"}]"#, "tools[0].function", "missing_required_parameter"),
        (#""tools":[{"type":"function","function":{"name":"bad name!"}}]"#, "tools[0].function.name", nil),
        (#""tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]"#, "tools[0].function.parameters", "invalid_type"),
        (#""tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]"#, "tools[1].function.name", nil),
        (#""tool_choice":"auto""#, "tool_choice", nil),
        (#""tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"always""#, "tool_choice", "invalid_value"),
        (#""tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"g"}}"#, "tool_choice.function.name", nil),
        (#""tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function"}"#, "tool_choice.function", "missing_required_parameter"),
        (#""tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":7"#, "tool_choice", "invalid_type"),
        (#""parallel_tool_calls":"no""#, "parallel_tool_calls", "invalid_type"),
        (#""response_format":{"type":"xml"}"#, "response_format.type", "invalid_value"),
        (#""response_format":{"type":"json_schema"}"#, "response_format.json_schema", "missing_required_parameter"),
        (#""response_format":{"type":"json_schema","json_schema":{"schema":{"type":"object"}}}"#, "response_format.json_schema.name", "missing_required_parameter"),
        (#""response_format":{"type":"json_schema","json_schema":{"name":"n","schema":true}}"#, "response_format.json_schema.schema", "invalid_type"),
        (#""response_format":"json""#, "response_format", "invalid_type"),
    ])
    func rejectsBadParametersWithTheirParam(fields: String, param: String, code: String?) throws {
        let error = try #require(rejection(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"# + fields + "}"))
        #expect(error.status == 400 && error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.code == code)
    }

    /// Bad histories: the `messages` array given whole.
    @Test(arguments: [
        (#"[{"role":"user","content":"hi","tool_calls":[]}]"#, "messages[0].tool_calls", nil as String?),
        (#"[{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"file","function":{"name":"f","arguments":"{}"}}]}]"#, "messages[0].tool_calls[0].type", nil),
        (#"[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f"}}]}]"#, "messages[0].tool_calls[0].function.arguments", "missing_required_parameter"),
        (#"[{"role":"assistant","content":null}]"#, "messages[0].content", "missing_required_parameter"),
        (#"[{"role":"user","content":"hi"},{"role":"tool","tool_call_id":"nope","content":"r"}]"#, "messages[1].tool_call_id", nil),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}]"#, "messages[0].content[0].image_url.url", "image_url_not_supported"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"HTTP://169.254.169.254/"}}]}]"#, "messages[0].content[0].image_url.url", "image_url_not_supported"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,not base64!"}}]}]"#, "messages[0].content[0].image_url.url", "invalid_value"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,AAAA"}}]}]"#, "messages[0].content[0].image_url.url", "invalid_value"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,raw"}}]}]"#, "messages[0].content[0].image_url.url", "invalid_value"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"file:///etc/passwd"}}]}]"#, "messages[0].content[0].image_url.url", "invalid_value"),
        (#"[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"max"}}]}]"#, "messages[0].content[0].image_url.detail", "invalid_value"),
        (#"[{"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]"#, "messages[0].content[0]", nil),
        (#"[{"role":"user","content":[{"type":"text"}]}]"#, "messages[0].content[0].text", "missing_required_parameter"),
        (#"[{"role":"user","content":"hi","name":3}]"#, "messages[0].name", "invalid_type"),
        (#"[{"role":"assistant","content":"a","reasoning_content":5}]"#, "messages[0].reasoning_content", "invalid_type"),
        (#"["hi"]"#, "messages[0]", "invalid_type"),
    ])
    func rejectsBadHistoriesWithTheirParam(messages: String, param: String, code: String?) throws {
        let error = try #require(rejection(#"{"model":"m","messages":"# + messages + "}"))
        #expect(error.status == 400 && error.type == "invalid_request_error")
        #expect(error.param == param)
        #expect(error.code == code)
    }

    @Test func acceptsAToolConversationWithReasoningAndImages() throws {
        let request = try validate(
            #"{"model":"m","tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object"},"strict":true}}],"#
                + #""tool_choice":{"type":"function","function":{"name":"get_time"}},"parallel_tool_calls":false,"#
                + #""response_format":{"type":"json_schema","json_schema":{"name":"t","schema":{"type":"object"},"strict":true}},"#
                + #""messages":[{"role":"user","content":[{"type":"text","text":"time?"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4A=="}}]},"#
                + #"{"role":"assistant","content":null,"reasoning_content":"hm","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"#
                + #"{"role":"tool","tool_call_id":"c1","content":"noon"}],"metadata":{"team":"a"},"user":"u1"}"#)
        #expect(request.tools.map(\.name) == ["get_time"] && request.toolChoice == .function("get_time") && !request.parallelToolCalls)
        #expect(request.responseFormat == .jsonSchema(name: "t", schema: ["type": "object"], strict: true))
        #expect(request.messages[0].images == [DataURL(mediaType: "image/jpeg", byteCount: 4, base64Payload: "/9j/4A==")])
        #expect(request.messages[1].toolCalls == [ToolCall(id: "c1", name: "get_time", arguments: "{}")])
        #expect(request.messages[1].reasoningContent == "hm")
        #expect(request.requiredCapabilities == ["tools", "json", "vision"])
        #expect(request.metadata == ["team": "a"] && request.user == "u1")
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
