import Foundation
import OpenAIWire

/// Frames one streamed chat answer as OpenAI SSE events. Every chunk shares the same id,
/// created time and model (STR-1); the first carries the role, the last the finish reason.
struct ChatStreamEncoder {
    let id: String
    let created: Int
    let model: String
    private let encoder = JSONEncoder()

    init(id: String, created: Int, model: String) {
        self.id = id
        self.created = created
        self.model = model
    }

    func roleFrame() -> String {
        frame(choices: [.init(delta: .init(role: "assistant", content: ""))])
    }

    func deltaFrame(content: String?, reasoning: String?) -> String {
        frame(choices: [.init(delta: .init(content: content, reasoningContent: reasoning))])
    }

    func finishFrame(reason: String) -> String {
        frame(choices: [.init(delta: .init(), finishReason: reason)])
    }

    /// The `include_usage` chunk: no choices, just usage.
    func usageFrame(_ usage: Usage) -> String {
        frame(choices: [], usage: usage)
    }

    /// A failure after the stream started: the error envelope as a data event (ERR-7).
    func errorFrame(_ error: APIError) -> String {
        ServerSentEvents.frame(encode(error.envelope))
    }

    private func frame(choices: [ChatCompletionChunk.Choice], usage: Usage? = nil) -> String {
        ServerSentEvents.frame(encode(ChatCompletionChunk(id: id, created: created, model: model, choices: choices, usage: usage)))
    }

    private func encode(_ value: some Encodable) -> String {
        String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}
