import OpenAIWire
import Testing

@testable import PortenNode

struct OllamaTests {
    @Test func chatRequestsBecomeOllamaChatBodies() throws {
        let request = try ChatCompletionRequest(
            validating: [
                "model": "llama3.2:3b", "temperature": 0.5, "top_p": 0.9, "seed": 7, "max_tokens": 20, "stop": ["\n"], "presence_penalty": 0.1,
                "response_format": ["type": "json_schema", "json_schema": ["name": "x", "schema": ["type": "object"]]],
                "tools": [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]],
                "messages": [
                    ["role": "developer", "content": "Be brief."],
                    ["role": "user", "content": [["type": "text", "text": "What?"], ["type": "image_url", "image_url": ["url": "data:image/png;base64,AAAA"]]]],
                    ["role": "assistant", "content": nil, "tool_calls": [["id": "c1", "type": "function", "function": ["name": "f", "arguments": #"{"a":1}"#]]]],
                    ["role": "tool", "tool_call_id": "c1", "content": "done"],
                ],
            ])
        let body = OllamaRequest.chatBody(request, capabilities: ["reasoning"])
        #expect(body["stream"] == true && body["think"] == true && body["format"] == ["type": "object"])
        #expect(body["options"] == ["temperature": 0.5, "top_p": 0.9, "seed": 7, "num_predict": 20, "stop": ["\n"], "presence_penalty": 0.1])
        #expect(body["messages"]?.arrayValue?.map { $0["role"]?.stringValue } == ["system", "user", "assistant", "tool"])
        #expect(body["messages"]?.arrayValue?[1]["images"] == ["AAAA"])
        #expect(body["messages"]?.arrayValue?[2]["tool_calls"] == [["function": ["name": "f", "arguments": ["a": 1]]]])
        #expect(body["tools"]?.arrayValue?.count == 1)
    }

    @Test func ndjsonLinesBecomeEvents() throws {
        var reader = OllamaStreamReader(callIDPrefix: "call_x_")
        let lines = [
            #"{"model":"m","message":{"role":"assistant","content":"","thinking":"Hmm"},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":"Hi"},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"b":2}}}]},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":3}"#,
        ].joined(separator: "\n") + "\n"
        let bytes = Array(lines.utf8)
        var events: [ChatEvent] = []
        for start in stride(from: 0, to: bytes.count, by: 11) { events += try reader.feed(bytes[start..<min(start + 11, bytes.count)]) }
        #expect(events == [
            .reasoning("Hmm"), .content("Hi"), .toolCall(.init(index: 0, id: "call_x_0", name: "f", arguments: "")),
            .toolCall(.init(index: 0, arguments: #"{"b":2}"#)),
        ])
        #expect(reader.isDone && reader.outcome == ChatOutcome(finishReason: "tool_calls", usage: Usage(promptTokens: 5, completionTokens: 3)))
        var failing = OllamaStreamReader(callIDPrefix: "c")
        #expect(throws: APIError.self) { try failing.feed(Array(#"{"error":"model 'x' not found"}"#.utf8) + [10]) }
    }
}
