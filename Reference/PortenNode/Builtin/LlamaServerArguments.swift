import NodeProtocol

/// The command line of the llama-server that serves one catalog model. Pure.
public enum LlamaServerArguments {
    /// Options the node sets itself; an operator's extra arguments may not contain them.
    public static let reserved: Set<String> = ["--host", "--port", "-m", "--model", "-a", "--alias", "--api-key", "--api-key-file"]

    /// `--host 127.0.0.1` always: the server is reached only through the node agent. Embedding
    /// models get `--embeddings --pooling mean`, chat models `--jinja` (tool calls need it); the
    /// operator's `extra` arguments (GPU layers, threads, slots…) come last.
    static func make(weights: String, load: TunnelMessage.Load, port: Int, extra: [String]) -> [String] {
        var arguments = ["--model", weights, "--host", "127.0.0.1", "--port", String(port), "--alias", load.model]
        if let ctx = load.ctx, ctx > 0 { arguments += ["--ctx-size", String(ctx)] }
        arguments += load.isEmbedding ? ["--embeddings", "--pooling", "mean"] : ["--jinja"]
        return arguments + extra
    }

    /// Splits `PORTEN_LLAMA_ARGS` the way a shell would split words: on whitespace, except inside
    /// single or double quotes, with a backslash escaping the next character (not inside single
    /// quotes). Nil when a quote is left open.
    public static func split(_ text: String) -> [String]? {
        var words: [String] = []
        var word: String?
        var quote: Character?
        var escaped = false
        for character in text {
            if escaped {
                word = (word ?? "") + String(character)
                escaped = false
            } else if character == "\\" && quote != "'" {
                escaped = true
                word = word ?? ""
            } else if let open = quote {
                if character == open { quote = nil } else { word! += String(character) }
            } else if character == "'" || character == "\"" {
                quote = character
                word = word ?? ""
            } else if character.isWhitespace {
                if let finished = word { words.append(finished) }
                word = nil
            } else {
                word = (word ?? "") + String(character)
            }
        }
        guard quote == nil, !escaped else { return nil }
        if let finished = word { words.append(finished) }
        return words
    }

    /// The first reserved option in `extra`, if any.
    public static func reservedOption(in extra: [String]) -> String? {
        extra.first { argument in reserved.contains(String(argument.split(separator: "=", maxSplits: 1).first ?? "")) }
    }
}
