import OpenAIWire
import PortenNode
import Testing

struct SimEngineTests {
    private func chat(_ user: String, maxTokens: Int? = nil, stop: [String] = []) throws -> ChatCompletionRequest {
        var body: [String: JSONValue] = ["model": "ref-chat", "messages": [["role": "user", "content": .string(user)]]]
        if let maxTokens { body["max_tokens"] = .int(maxTokens) }
        if !stop.isEmpty { body["stop"] = .array(stop.map(JSONValue.string)) }
        return try ChatCompletionRequest(validating: .object(body))
    }

    @Test(arguments: [
        ("Hello, world!", ["Hello", ",", " world", "!"]),
        ("  two  spaces ", ["  two", "  spaces", " "]),
        ("naïve café 42x", ["naïve", " café", " 42x"]),
        ("", []),
    ])
    func tokenizerIsLosslessAndDocumented(text: String, tokens: [String]) {
        #expect(SimTokenizer.tokens(text) == tokens)
        #expect(SimTokenizer.tokens(text).joined() == text)
    }

    @Test func replyEchoesTheLastUserMessage() throws {
        #expect(SimReply.plan(for: try chat("Hi there")) == SimReply(events: ["Echo", ":", " Hi", " there"].map(ChatEvent.content), finishReason: "stop"))
    }

    @Test func maxTokensCutsWithLength() throws {
        #expect(SimReply.plan(for: try chat("Hi there", maxTokens: 2)) == SimReply(events: ["Echo", ":"].map(ChatEvent.content), finishReason: "length"))
        #expect(SimReply.plan(for: try chat("Hi", maxTokens: 3)).finishReason == "stop")
    }

    @Test func stopCutsBeforeTheEarliestSequence() throws {
        #expect(SimReply.plan(for: try chat("one two three", stop: ["three", " two"])).content == "Echo: one")
    }

    @Test func streamsEveryTokenAndCountsUsage() async throws {
        let engine = SimEngine()
        let collected = Collected()
        let outcome = try await engine.chat(try chat("Hello, world!"), capabilities: []) { event in await collected.add(event) }
        #expect(await collected.events == ["Echo", ":", " Hello", ",", " world", "!"].map(ChatEvent.content))
        #expect(outcome == ChatOutcome(finishReason: "stop", usage: Usage(promptTokens: 7, completionTokens: 6)))
    }

    @Test func embeddingsAreDeterministicUnitVectors() async throws {
        let engine = SimEngine()
        let request = try EmbeddingRequest(validating: ["model": "ref-embed", "input": ["alpha", "beta", "alpha"]])
        let (vectors, usage) = try await engine.embed(request)
        #expect(vectors.count == 3 && vectors.allSatisfy { $0.count == SimEngine.embeddingDimensions })
        #expect(vectors[0] == vectors[2] && vectors[0] != vectors[1])
        for vector in vectors {
            #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        }
        #expect(usage.promptTokens == 3)
    }
}

private actor Collected {
    var events: [ChatEvent] = []
    func add(_ event: ChatEvent) { events.append(event) }
}
