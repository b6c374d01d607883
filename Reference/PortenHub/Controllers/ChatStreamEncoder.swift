import Foundation
import NodeProtocol
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

    /// The first chunk, written when the first piece of the answer arrives: `content` is `""` for
    /// an answer that starts with text or reasoning and `null` for one that starts with a tool
    /// call, as OpenAI streams them (WIRE-3), so a tool-only answer reassembles to `content: null`.
    func roleFrame(before first: TunnelMessage.Delta?) -> String {
        let content = first?.toolCall != nil && first?.content == nil ? "null" : "\"\""
        return choiceFrame(delta: "{\"role\":\"assistant\",\"content\":\(content)}", finishReason: nil)
    }

    /// A delta chunk. A tool-call piece is `{"index","id","type","function":{"name","arguments"}}`
    /// for the first piece of a call and `{"index","function":{"arguments"}}` after it.
    func deltaFrame(_ delta: TunnelMessage.Delta) -> String {
        var fields: [String] = []
        if let reasoning = delta.reasoningContent { fields.append("\"reasoning_content\":" + JSONText.quote(reasoning)) }
        if let content = delta.content { fields.append("\"content\":" + JSONText.quote(content)) }
        if let call = delta.toolCall {
            var piece = "{\"index\":\(call.index)"
            if let id = call.id { piece += ",\"id\":" + JSONText.quote(id) + ",\"type\":\"function\"" }
            var function: [String] = []
            if let name = call.name { function.append("\"name\":" + JSONText.quote(name)) }
            if let arguments = call.arguments { function.append("\"arguments\":" + JSONText.quote(arguments)) }
            piece += ",\"function\":{" + function.joined(separator: ",") + "}}"
            fields.append("\"tool_calls\":[" + piece + "]")
        }
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
    func errorFrame(_ error: APIError) -> String { Self.errorEvent(error) }

    static func errorEvent(_ error: APIError) -> String {
        ServerSentEvents.frame(error.jsonText)
    }

    private func choiceFrame(delta: String, finishReason: String?) -> String {
        let reason = finishReason.map(JSONText.quote) ?? "null"
        return ServerSentEvents.frame(prefix + "{\"index\":0,\"delta\":\(delta),\"logprobs\":null,\"finish_reason\":\(reason)}]}")
    }
}
