import OpenAIWire
import Testing

@testable import PortenNode

struct OpenAIStreamReaderTests {
    private func events(_ stream: String) throws -> (events: [ChatEvent], reader: OpenAIStreamReader) {
        var reader = OpenAIStreamReader()
        var events: [ChatEvent] = []
        // Feed in small slices: events split across network reads must come out whole.
        let bytes = Array(stream.utf8)
        for start in stride(from: 0, to: bytes.count, by: 7) { events += try reader.feed(bytes[start..<min(start + 7, bytes.count)]) }
        return (events, reader)
    }

    @Test func readsTextReasoningToolCallsAndUsage() throws {
        let (events, reader) = try events(
            #"data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"# + "\n\n"
                + #"data: {"choices":[{"index":0,"delta":{"reasoning":"hm"}}]}"# + "\n\n"
                + #"data: {"choices":[{"index":0,"delta":{"reasoning_content":" ok"}}]}"# + "\n\n"
                + #"data:{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"# + "\r\n\r\n"
                + #"data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c","type":"function","function":{"name":"f","arguments":""}}]}}]}"# + "\n\n"
                + #"data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"# + "\n\n"
                + #"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9,"completion_tokens_details":{"reasoning_tokens":2}}}"# + "\n\n"
                + "data: [DONE]\n\ndata: {\"ignored\":true}\n\n")
        #expect(events == [.reasoning("hm"), .reasoning(" ok"), .content("Hi"), .toolCall(.init(index: 1, id: "c", name: "f", arguments: ""))])
        #expect(reader.isDone)
        #expect(reader.outcome == ChatOutcome(finishReason: "tool_calls", usage: Usage(promptTokens: 5, completionTokens: 4, reasoningTokens: 2)))
    }

    @Test func withoutUsageTheReaderCountsPieces() throws {
        let (_, reader) = try events(#"data: {"choices":[{"index":0,"delta":{"content":"a"}}]}"# + "\n\n" + "data: [DONE]\n\n")
        #expect(reader.outcome.usage == Usage(promptTokens: 0, completionTokens: 1))
    }

    @Test func aWholeCompletionFromAServerThatIgnoresStreamBecomesEvents() throws {
        let completion = #"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","reasoning":"hm","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}"#
        let (events, outcome) = try OpenAIStreamReader.completion(Array(completion.utf8))
        #expect(events == [.reasoning("hm"), .content("Hello!"), .toolCall(.init(index: 0, id: "c1", name: "f", arguments: "{}"))])
        #expect(outcome == ChatOutcome(finishReason: "tool_calls", usage: Usage(promptTokens: 9, completionTokens: 2)))
        #expect(throws: APIError.self) { try OpenAIStreamReader.completion(Array(#"{"choices":[]}"#.utf8)) }
        #expect(throws: EngineFailure.self) { try OpenAIStreamReader.completion(Array(#"{"error":{"message":"boom"}}"#.utf8)) }
    }

    @Test func anErrorEventFailsTheRequest() {
        #expect(throws: EngineFailure.self) { try events(#"data: {"error":{"message":"boom","type":"server_error"}}"# + "\n\n") }
    }

    @Test(arguments: [
        (400, #"{"error":{"message":"bad","type":"invalid_request_error","param":"messages","code":"x"}}"#, 400, "invalid_request_error", "messages" as String?, "x" as String?),
        (422, #"{"error":{"code":422,"message":"bad schema","type":"invalid_request_error"}}"#, 422, "invalid_request_error", nil, nil),
        (401, #"{"error":{"code":401,"message":"Invalid API Key","type":"authentication_error"}}"#, 502, "api_error", nil, "node_error"),
        (500, #"{"error":{"message":"kaput"}}"#, 502, "api_error", nil, "node_error"),
        (404, "not json", 502, "api_error", nil, "node_error"),
    ])
    func upstreamErrorsBecomeOpenAIErrors(status: Int, body: String, mapped: Int, type: String, param: String?, code: String?) {
        let thrown = UpstreamError.apiError(status: status, body: Array(body.utf8), url: "http://up/v1/chat/completions")
        let error = (thrown as? APIError) ?? (thrown as? EngineFailure)?.error
        #expect(error?.status == mapped && error?.type == type && error?.param == param && error?.code == code)
        // The upstream's address never reaches the client; the node's log keeps it.
        #expect(error?.message.contains("http://up") == false)
        if let failure = thrown as? EngineFailure { #expect(failure.detail.contains("http://up/v1/chat/completions")) }
    }
}

struct ModelWatcherTests {
    @Test func reportsWhatStoppedAndWhatStartedWorking() {
        #expect(ModelWatcher.changes(from: ["a", "b"], to: ["b", "c"]) == [.unloaded(.init(model: "a")), .loaded(.init(model: "c"))])
        #expect(ModelWatcher.changes(from: ["a"], to: ["a"]).isEmpty)
        #expect(ModelWatcher.readyIDs([.init(id: "a", state: .ready), .init(id: "b", state: .onDisk)]) == ["a"])
    }
}
