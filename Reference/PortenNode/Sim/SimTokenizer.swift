/// The sim engine's documented tokenizer (docs/sim-engine.md).
///
/// A token is any leading whitespace followed by either a run of letters and digits or one other
/// character; whitespace at the very end is a token of its own. Joining the tokens gives back the
/// text exactly, so streamed pieces always concatenate to the whole answer.
///
///     "Hello, world!" → ["Hello", ",", " world", "!"]
public enum SimTokenizer {
    public static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        var inWord = false
        for character in text {
            if character.isWhitespace {
                if !current.isEmpty, !current.allSatisfy(\.isWhitespace) {
                    tokens.append(current)
                    current = ""
                }
                current.append(character)
                inWord = false
            } else if character.isLetter || character.isNumber {
                if !current.isEmpty, !current.allSatisfy(\.isWhitespace), !inWord {
                    tokens.append(current)
                    current = ""
                }
                current.append(character)
                inWord = true
            } else {
                if !current.isEmpty, !current.allSatisfy(\.isWhitespace) {
                    tokens.append(current)
                    current = ""
                }
                current.append(character)
                tokens.append(current)
                current = ""
                inWord = false
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func count(_ text: String) -> Int { tokens(text).count }
}
