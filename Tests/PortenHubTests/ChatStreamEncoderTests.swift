import Foundation
import NodeProtocol
import OpenAIWire
import Testing

@testable import PortenHub

struct ChatStreamEncoderTests {
    private let encoder = ChatStreamEncoder(id: "chatcmpl-1", created: 42, model: "ref-\"chat")

    private func chunk(_ frame: String) throws -> ChatCompletionChunk {
        #expect(frame.hasPrefix("data: ") && frame.hasSuffix("\n\n"))
        let json = frame.dropFirst(6).dropLast(2)
        #expect(!json.contains("\n"))
        _ = try JSONParser.parse(String(json))  // strict: no duplicate keys, valid escapes
        return try JSONDecoder().decode(ChatCompletionChunk.self, from: Data(json.utf8))
    }

    @Test func everyFrameIsAValidChunkOfTheSameStream() throws {
        let frames = [
            encoder.roleFrame(before: nil), encoder.deltaFrame(.init(id: "r1", content: "a\"\n")), encoder.deltaFrame(.init(id: "r1", reasoningContent: "r")),
            encoder.finishFrame(reason: "length"),
        ]
        let chunks = try frames.map(chunk)
        #expect(chunks.allSatisfy { $0.id == "chatcmpl-1" && $0.created == 42 && $0.model == "ref-\"chat" && $0.usage == nil })
        #expect(chunks.map { $0.choices[0].delta } == [
            .init(role: "assistant", content: ""), .init(content: "a\"\n"), .init(reasoningContent: "r"), .init(),
        ])
        #expect(chunks.map { $0.choices[0].finishReason } == [nil, nil, nil, "length"])
    }

    @Test func theRoleChunkSaysNullContentBeforeAToolCallAndEmptyTextOtherwise() {
        let toolCall = TunnelMessage.Delta(id: "r1", toolCall: .init(index: 0, id: "call_a", name: "f", arguments: ""))
        #expect(encoder.roleFrame(before: toolCall).contains(#""delta":{"role":"assistant","content":null}"#))
        for first in [TunnelMessage.Delta(id: "r1", content: "Hi"), .init(id: "r1", reasoningContent: "Hmm"), nil] {
            #expect(encoder.roleFrame(before: first).contains(#""delta":{"role":"assistant","content":""}"#))
        }
    }

    @Test func keysComeInOpenAIsOrder() {
        #expect(encoder.deltaFrame(.init(id: "r1", content: "x")) == #"data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":42,"model":"ref-\"chat","choices":[{"index":0,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}"# + "\n\n")
    }

    @Test func toolCallPiecesCarryIndexAlwaysAndIdTypeNameOnlyFirst() throws {
        let first = try chunk(encoder.deltaFrame(.init(id: "r1", toolCall: .init(index: 1, id: "call_a", name: "get_time", arguments: ""))))
        let next = try chunk(encoder.deltaFrame(.init(id: "r1", toolCall: .init(index: 1, arguments: "{}"))))
        #expect(first.choices[0].delta.toolCalls == [.init(index: 1, id: "call_a", type: "function", function: .init(name: "get_time", arguments: ""))])
        #expect(next.choices[0].delta.toolCalls == [.init(index: 1, function: .init(arguments: "{}"))])
        #expect(encoder.deltaFrame(.init(id: "r1", toolCall: .init(index: 0, arguments: "{}"))).contains(#""delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}"#))
    }

    @Test func usageFrameHasNoChoices() throws {
        let usage = try chunk(encoder.usageFrame(Usage(promptTokens: 1, completionTokens: 2, reasoningTokens: 2)))
        #expect(usage.choices.isEmpty)
        #expect(usage.usage == Usage(promptTokens: 1, completionTokens: 2, reasoningTokens: 2))
    }

    @Test func errorFrameCarriesTheEnvelope() throws {
        let frame = encoder.errorFrame(.nodeError("boom"))
        let envelope = try JSONDecoder().decode(APIError.Envelope.self, from: Data(frame.dropFirst(6).dropLast(2).utf8))
        #expect(envelope.error.code == "node_error" && envelope.error.message == "boom")
    }
}
