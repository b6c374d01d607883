import OpenAIWire

/// Which tools the sim engine calls, with what arguments (docs/sim-engine.md, "Tools").
enum SimToolCalls {
    /// The tool-call events of the answer, or none when it answers with text.
    ///
    /// `none` calls nothing; a named function calls it; `auto` calls every tool whose name occurs
    /// in the last user message (in `tools` order), or nothing, and nothing once the history ends
    /// with tool results; `required` is `auto` that falls back to the first tool.
    /// `parallel_tool_calls: false` keeps only the first call.
    static func plan(for request: ChatCompletionRequest, text: String) -> [ChatEvent] {
        let mentioned = request.tools.filter { text.contains($0.name) }
        let answeredTools = request.messages.last?.role == .tool
        var called: [ToolDefinition]
        switch request.toolChoice {
        case .none: called = []
        case .function(let name): called = request.tools.filter { $0.name == name }
        case .auto: called = answeredTools ? [] : mentioned
        case .required: called = mentioned.isEmpty ? Array(request.tools.prefix(1)) : mentioned
        }
        if !request.parallelToolCalls { called = Array(called.prefix(1)) }
        return called.enumerated().flatMap { index, tool in
            let arguments = JSONText.compact(
                tool.parameters.map { SimJSON.instance(of: $0, text: text, number: SimTokenizer.count(text)) } ?? .object([:]))
            let id = callID(turn: request.messages.count, index: index, name: tool.name, arguments: arguments)
            return [ChatEvent.toolCall(.init(index: index, id: id, name: tool.name, arguments: ""))]
                + SimTokenizer.tokens(arguments).map { ChatEvent.toolCall(.init(index: index, arguments: $0)) }
        }
    }

    /// `call_` and 16 hex digits of FNV-1a over the turn, the call's index, name and arguments.
    static func callID(turn: Int, index: Int, name: String, arguments: String) -> String {
        let hash = SimEmbedding.fnv1a("\(turn):\(index):\(name):\(arguments)")
        let hex = String(hash, radix: 16)
        return "call_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
