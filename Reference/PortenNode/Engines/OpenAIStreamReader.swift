import OpenAIWire

/// Turns an upstream OpenAI chat stream into engine events: text, reasoning (`reasoning_content`,
/// or the `reasoning` some servers send), tool-call pieces; and keeps the finish reason and usage.
/// Pure: bytes in, events out.
struct OpenAIStreamReader {
    private var parser = ServerSentEvents.Parser()
    private(set) var isDone = false
    private var finishReason = "stop"
    private var usage: Usage?
    private var pieces = 0

    /// The outcome once the stream ended: the upstream's usage, or the pieces counted when it sent none.
    var outcome: ChatOutcome {
        ChatOutcome(finishReason: finishReason, usage: usage ?? Usage(promptTokens: 0, completionTokens: pieces))
    }

    mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [ChatEvent] {
        var events: [ChatEvent] = []
        for payload in parser.feed(bytes) where !isDone {
            if payload == "[DONE]" {
                isDone = true
                break
            }
            let chunk: JSONValue
            do {
                chunk = try JSONParser.parse(payload)
            } catch {
                throw APIError.nodeError("The engine sent a stream event that is not JSON: \(error).")
            }
            try Self.throwIfError(chunk)
            if let found = Self.usage(chunk) { usage = found }
            for choice in chunk["choices"]?.arrayValue ?? [] {
                if let reason = choice["finish_reason"]?.stringValue { finishReason = reason }
                if let delta = choice["delta"] { events += Self.events(of: delta) }
            }
        }
        pieces += events.count
        return events
    }
}

extension OpenAIStreamReader {
    /// The events and outcome of a whole `chat.completion` (from an upstream that answered a
    /// streamed request without streaming): its first choice's reasoning, text and tool calls.
    static func completion(_ bytes: [UInt8]) throws -> (events: [ChatEvent], outcome: ChatOutcome) {
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            throw APIError.nodeError("The engine answered with a completion that is not JSON: \(error).")
        }
        try throwIfError(json)
        guard let choice = json["choices"]?.arrayValue?.first, let message = choice["message"] else {
            throw APIError.nodeError("The engine answered with a completion without a message.")
        }
        let events = events(of: message)
        let usage = usage(json)
        let outcome = ChatOutcome(finishReason: choice["finish_reason"]?.stringValue ?? "stop", usage: usage ?? Usage(promptTokens: 0, completionTokens: events.count))
        return (events, outcome)
    }
}

extension OpenAIStreamReader {
    /// An error the upstream sent in place of an answer, as the client's error.
    fileprivate static func throwIfError(_ json: JSONValue) throws {
        if let error = json["error"] { throw UpstreamError.apiError(status: 502, body: Array(JSONText.compact(.object(["error": error])).utf8), url: "") }
    }

    /// The upstream's usage, when it sent one.
    fileprivate static func usage(_ json: JSONValue) -> Usage? {
        guard let found = json["usage"], let prompt = found["prompt_tokens"]?.intValue else { return nil }
        return Usage(
            promptTokens: prompt, completionTokens: found["completion_tokens"]?.intValue ?? 0,
            reasoningTokens: found["completion_tokens_details"]?["reasoning_tokens"]?.intValue)
    }

    /// The reasoning, text and tool-call pieces of a streamed `delta` or a whole `message`; a
    /// tool call without an `index` (a message's) is numbered by its position.
    fileprivate static func events(of part: JSONValue) -> [ChatEvent] {
        var events: [ChatEvent] = []
        if let thought = part["reasoning_content"]?.stringValue ?? part["reasoning"]?.stringValue, !thought.isEmpty {
            events.append(.reasoning(thought))
        }
        if let text = part["content"]?.stringValue, !text.isEmpty { events.append(.content(text)) }
        for (position, call) in (part["tool_calls"]?.arrayValue ?? []).enumerated() {
            events.append(
                .toolCall(
                    ToolCallDelta(
                        index: call["index"]?.intValue ?? position, id: call["id"]?.stringValue, name: call["function"]?["name"]?.stringValue,
                        arguments: call["function"]?["arguments"]?.stringValue)))
        }
        return events
    }
}

/// An upstream's error answer, turned into the client's OpenAI error: a client mistake (400, 404,
/// 413, 422) with an OpenAI-shaped body keeps its status, message, type and param (string codes
/// only); anything else — the upstream refusing the node's key, being overloaded or broken — is
/// the node's problem: an ``EngineFailure``, `502 node_error` for the client, with the upstream's
/// address and words kept for the node's log.
enum UpstreamError {
    static let clientMistakes: Set<Int> = [400, 404, 413, 422]

    static func apiError(status: Int, body: [UInt8], url: String) -> any Error {
        let error = (try? JSONParser.parse(body))?["error"]
        let message = error?["message"]?.stringValue ?? error?.stringValue
        if clientMistakes.contains(status), let message {
            return APIError(
                status: status, message: message, type: error?["type"]?.stringValue ?? "invalid_request_error",
                param: error?["param"]?.stringValue, code: error?["code"]?.stringValue)
        }
        let said = message ?? String(decoding: body.prefix(300), as: UTF8.self)
        return EngineFailure(
            .nodeError("The node's engine failed with \(status)."), detail: "\(url.isEmpty ? "upstream" : url) answered \(status): \(said)")
    }
}

/// An engine's failure: the error an API client sees, and the detail (upstream addresses, what
/// the upstream said) that only the node's log keeps, under the request id.
public struct EngineFailure: Error, CustomStringConvertible {
    public var error: APIError
    public var detail: String

    public init(_ error: APIError, detail: String) {
        self.error = error
        self.detail = detail
    }

    public var description: String { "\(error.message) \(detail)" }
}
