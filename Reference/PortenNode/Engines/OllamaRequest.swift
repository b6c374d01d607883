import OpenAIWire

/// Translates an OpenAI chat request into Ollama's `POST /api/chat` body (Ollama's documented
/// API): messages with base64 `images`, sampling parameters under `options`, `format` for JSON
/// output, `tools` as they are, `think` for reasoning models. Pure.
enum OllamaRequest {
    static func chatBody(_ request: ChatCompletionRequest, capabilities: [String]) -> JSONValue {
        var options: [String: JSONValue] = [:]
        if let temperature = request.temperature { options["temperature"] = .double(temperature) }
        if let topP = request.topP { options["top_p"] = .double(topP) }
        if let seed = request.seed { options["seed"] = .int(seed) }
        if let maxTokens = request.maxTokens { options["num_predict"] = .int(maxTokens) }
        if !request.stop.isEmpty { options["stop"] = .array(request.stop.map(JSONValue.string)) }
        if let presence = request.presencePenalty { options["presence_penalty"] = .double(presence) }
        if let frequency = request.frequencyPenalty { options["frequency_penalty"] = .double(frequency) }
        var body: [String: JSONValue] = [
            "model": .string(request.model), "stream": .bool(true), "messages": .array(request.messages.map(message)),
        ]
        if !options.isEmpty { body["options"] = .object(options) }
        switch request.responseFormat {
        case .text: break
        case .jsonObject, .jsonSchema(_, nil, _): body["format"] = .string("json")
        case .jsonSchema(_, let schema?, _): body["format"] = schema
        }
        if !request.tools.isEmpty, request.toolChoice != .none, let tools = request.body["tools"] { body["tools"] = tools }
        if capabilities.contains("reasoning") { body["think"] = .bool(true) }
        return .object(body)
    }

    private static func message(_ message: ChatMessage) -> JSONValue {
        var object: [String: JSONValue] = ["role": .string(message.role == .developer ? "system" : message.role.rawValue), "content": .string(message.text)]
        let images = message.parts.compactMap { part -> JSONValue? in
            if case .image(let image, _) = part { image.base64Payload.map(JSONValue.string) } else { nil }
        }
        if !images.isEmpty { object["images"] = .array(images) }
        if !message.toolCalls.isEmpty {
            object["tool_calls"] = .array(message.toolCalls.map { call in
                .object(["function": .object(["name": .string(call.function.name), "arguments": (try? JSONParser.parse(call.function.arguments)) ?? .object([:])])])
            })
        }
        return .object(object)
    }
}
