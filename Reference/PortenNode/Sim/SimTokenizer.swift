/// The sim engine's documented tokenizer (docs/sim-engine.md).
///
/// A token is any leading whitespace followed by either a run of letters and digits or one other
/// character; whitespace at the very end is a token of its own. Joining the tokens gives back the
/// text exactly, so streamed pieces always concatenate to the whole answer.
///
///     "Hello, world!" → ["Hello", ",", " world", "!"]
public enum SimTokenizer {
    /// Linear in the text: whether the piece being built is only whitespace is tracked, not re-read.
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        /// `current` holds something besides leading whitespace.
        var hasBody = false
        var inWord = false
        func flush() {
            tokens.append(current)
            current = ""
            hasBody = false
        }
        for character in text {
            if character.isWhitespace {
                if hasBody { flush() }
                current.append(character)
                inWord = false
            } else if character.isLetter || character.isNumber {
                if hasBody, !inWord { flush() }
                current.append(character)
                hasBody = true
                inWord = true
            } else {
                if hasBody { flush() }
                current.append(character)
                flush()
                inWord = false
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func count(_ text: String) -> Int { tokens(text).count }
}
