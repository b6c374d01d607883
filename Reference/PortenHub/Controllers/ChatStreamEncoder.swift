import Foundation
import OpenAIWire

/// Frames one streamed chat answer as OpenAI SSE events, in OpenAI's key order (WIRE-2).
///
/// Every chunk shares the same id, created time and model (STR-1); the first carries the role,
/// the last the finish reason. Written by hand because it runs once per token.
struct ChatStreamEncoder: Sendable {
    /// `{"id":…,"object":…,"created":…,"model":…,"choices":[` — the same for every chunk.
    private let prefix: String

    init(id: String, created: Int, model: String) {
        prefix = "{\"id\":\(JSONText.quote(id)),\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\(JSONText.quote(model)),\"choices\":["
    }

    func roleFrame() -> String {
        choiceFrame(delta: "{\"role\":\"assistant\",\"content\":\"\"}", finishReason: nil)
    }

    func deltaFrame(content: String?, reasoning: String?) -> String {
        var fields: [String] = []
        if let reasoning { fields.append("\"reasoning_content\":" + JSONText.quote(reasoning)) }
        if let content { fields.append("\"content\":" + JSONText.quote(content)) }
        return choiceFrame(delta: "{" + fields.joined(separator: ",") + "}", finishReason: nil)
    }

    func finishFrame(reason: String) -> String {
        choiceFrame(delta: "{}", finishReason: reason)
    }

    /// The `include_usage` chunk: no choices, just usage (STR-5).
    func usageFrame(_ usage: Usage) -> String {
        ServerSentEvents.frame(prefix + "],\"usage\":" + JSONText.usage(usage) + "}")
    }

    /// A failure after the stream started: the error envelope as a data event (ERR-7).
    func errorFrame(_ error: APIError) -> String {
        ServerSentEvents.frame(String(decoding: JSONResponse.encode(error.envelope), as: UTF8.self))
    }

    private func choiceFrame(delta: String, finishReason: String?) -> String {
        let reason = finishReason.map(JSONText.quote) ?? "null"
        return ServerSentEvents.frame(prefix + "{\"index\":0,\"delta\":\(delta),\"logprobs\":null,\"finish_reason\":\(reason)}]}")
    }
}
