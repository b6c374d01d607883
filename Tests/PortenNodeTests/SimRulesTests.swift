import OpenAIWire
import PortenNode
import Testing

/// The sim engine's rules for tools, JSON output, reasoning, vision and fault triggers
/// (docs/sim-engine.md), checked against hand-predicted answers.
struct SimRulesTests {
    private func request(_ body: JSONValue) throws -> ChatCompletionRequest {
        try ChatCompletionRequest(validating: body)
    }

    private static let weather: JSONValue = [
        "type": "function",
        "function": [
            "name": "get_weather", "description": "Weather for a city",
            "parameters": ["type": "object", "properties": ["city": ["type": "string"], "days": ["type": "integer", "minimum": 1, "maximum": 3]]],
        ],
    ]
    private static let time: JSONValue = ["type": "function", "function": ["name": "get_time", "parameters": ["type": "object", "properties": [:]]]]

    private func toolRequest(_ text: String, choice: JSONValue? = nil, parallel: Bool? = nil) throws -> ChatCompletionRequest {
        var body: [String: JSONValue] = ["model": "ref-tools", "messages": [["role": "user", "content": .string(text)]], "tools": [Self.weather, Self.time]]
        if let choice { body["tool_choice"] = choice }
        if let parallel { body["parallel_tool_calls"] = .bool(parallel) }
        return try request(.object(body))
    }

    /// The calls of a plan, reassembled: (index, id, name, arguments).
    private func calls(_ reply: SimReply) -> [ToolCall] {
        var assembler = ToolCallAssembler()
        for case .toolCall(let piece) in reply.events { assembler.add(piece) }
        return assembler.toolCalls
    }

    @Test func autoCallsTheToolsTheMessageNames() throws {
        let reply = SimReply.plan(for: try toolRequest("Use get_weather, please"))
        #expect(reply.finishReason == "tool_calls")
        let call = try #require(calls(reply).first)
        #expect(calls(reply).count == 1)
        #expect(call.function.name == "get_weather")
        // strings are the user's text; integers its token count (4) clamped to maximum 3.
        #expect(call.function.arguments == #"{"city":"Use get_weather, please","days":3}"#)
        #expect(call.id.hasPrefix("call_") && call.id.count == 21)
        // The first piece of a call carries id and name with empty arguments; the rest only fragments.
        guard case .toolCall(let first) = reply.events[0], case .toolCall(let second) = reply.events[1] else { Issue.record(); return }
        #expect(first.id == call.id && first.name == "get_weather" && first.arguments == "")
        #expect(second.id == nil && second.name == nil && second.arguments == "{")
    }

    @Test func parallelCallsGetIndexesInToolsOrder() throws {
        let reply = SimReply.plan(for: try toolRequest("get_time and get_weather"))
        #expect(calls(reply).map(\.function.name) == ["get_weather", "get_time"])
        #expect(Set(calls(reply).map(\.id)).count == 2)
        #expect(calls(SimReply.plan(for: try toolRequest("get_time and get_weather", parallel: false))).map(\.function.name) == ["get_weather"])
    }

    @Test func toolChoiceDecidesWhetherAndWhichToolIsCalled() throws {
        #expect(SimReply.plan(for: try toolRequest("Hello")).content == "Echo: Hello")  // auto, nothing named
        #expect(SimReply.plan(for: try toolRequest("get_weather", choice: "none")).content == "Echo: get_weather")
        #expect(calls(SimReply.plan(for: try toolRequest("Hello", choice: "required"))).map(\.function.name) == ["get_weather"])
        let named: JSONValue = ["type": "function", "function": ["name": "get_time"]]
        #expect(calls(SimReply.plan(for: try toolRequest("get_weather", choice: named))).map { [$0.function.name, $0.function.arguments] } == [["get_time", "{}"]])
    }

    @Test func toolResultsAreAnsweredWithText() throws {
        let body: JSONValue = [
            "model": "ref-tools", "tools": [Self.weather],
            "messages": [
                ["role": "user", "content": "get_weather in Paris"],
                ["role": "assistant", "content": nil, "tool_calls": [["id": "call_1", "type": "function", "function": ["name": "get_weather", "arguments": "{}"]]]],
                ["role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 C"],
            ],
        ]
        let reply = SimReply.plan(for: try request(body))
        #expect(reply.content == "Tool results: sunny, 21 C" && reply.finishReason == "stop")
    }

    @Test func jsonModesAnswerWithValidJSON() throws {
        let object = try request(["model": "ref-tools", "response_format": ["type": "json_object"], "messages": [["role": "user", "content": "Say \"hi\""]]])
        #expect(SimReply.plan(for: object).content == #"{"echo":"Say \"hi\""}"#)
        let schema: JSONValue = [
            "type": "object",
            "properties": [
                "title": ["type": "string", "maxLength": 5], "tags": ["type": "array", "items": ["type": "string", "enum": ["a", "b"]], "minItems": 2],
                "score": ["type": ["number", "null"]], "ok": ["type": "boolean"], "kind": ["const": "k"],
            ],
            "required": ["title", "tags", "score", "ok", "kind"], "additionalProperties": false,
        ]
        let strict = try request([
            "model": "ref-tools", "messages": [["role": "user", "content": "Hello there world"]],
            "response_format": ["type": "json_schema", "json_schema": ["name": "card", "strict": true, "schema": schema]],
        ])
        #expect(SimReply.plan(for: strict).content == #"{"kind":"k","ok":true,"score":3,"tags":["a","a"],"title":"Hello"}"#)
    }

    @Test func reasoningComesFirstAndCountsAgainstTheBudget() throws {
        let full = SimReply.plan(for: try request(["model": "ref-reasoner", "messages": [["role": "user", "content": "Hi"]]]), capabilities: ["reasoning"])
        let thought = full.events.compactMap { if case .reasoning(let text) = $0 { text } else { nil } }.joined()
        #expect(thought == "Let me think. The user said: Hi")
        #expect(full.reasoningTokens == 9 && full.content == "Echo: Hi" && full.finishReason == "stop")
        #expect(full.events.prefix(9).allSatisfy { if case .reasoning = $0 { true } else { false } })
        let starved = SimReply.plan(
            for: try request(["model": "ref-reasoner", "max_tokens": 5, "messages": [["role": "user", "content": "Hi"]]]), capabilities: ["reasoning"])
        #expect(starved.events.count == 5 && starved.reasoningTokens == 5 && starved.content == "" && starved.finishReason == "length")
    }

    @Test func visionAcknowledgesInlineImagesAndCountsThem() throws {
        let png = "data:image/png;base64,iVBORw0KGgo="  // 8 bytes
        let body: JSONValue = [
            "model": "ref-vision",
            "messages": [["role": "user", "content": [["type": "text", "text": "What is this?"], ["type": "image_url", "image_url": ["url": .string(png)]]]]],
        ]
        #expect(SimReply.plan(for: try request(body), capabilities: ["vision"]).content == "Echo: What is this? [image 1: image/png, 8 bytes]")
        #expect(SimEngine.promptTokens(try request(body)) == 4 + 3 + 85)
    }

    @Test func toolsAndToolCallsCountAsPromptTokens() throws {
        // "Use get_weather, please" 6 + 3; tools: get_weather (3) + "Weather for a city" (4) + 3, get_time (3) + 3.
        #expect(SimEngine.promptTokens(try toolRequest("Use get_weather, please")) == 9 + 10 + 6)
    }

    @Test func theFailTriggerFailsAfterTwoTokens() async throws {
        let engine = SimEngine()
        let sent = Counter()
        let request = try request(["model": "ref-chat", "messages": [["role": "user", "content": .string("boom \(SimEngine.failMidStreamTrigger)")]]])
        await #expect(throws: APIError.self) { _ = try await engine.chat(request, capabilities: []) { _ in await sent.increment() } }
        #expect(await sent.value == 2)
    }
}

private actor Counter {
    var value = 0
    func increment() { value += 1 }
}
