/// Hand-written JSON text for the hot path (one SSE chunk per token), in OpenAI's key order.
public enum JSONText {
    /// `text` as a JSON string literal, quotes included: `"` and `\` escaped, control characters
    /// as `\n`, `\t`… or `\u00XX`, and U+2028/U+2029 as `\u2028`/`\u2029` (JavaScript line breaks).
    public static func quote(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            var output: [UInt8] = []
            output.reserveCapacity(bytes.count + 2)
            output.append(0x22)
            var runStart = 0
            var index = 0
            while index < bytes.count {
                // Most bytes need no escape: find the end of the run and copy it whole.
                index = plainRunEnd(bytes, from: index, alsoStoppingAtE2: true)
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<index]))
                guard index < bytes.count else { break }
                let byte = bytes[index]
                index += 1
                func escaped(_ text: StaticString) {
                    output.append(UInt8(ascii: "\\"))
                    text.withUTF8Buffer { output.append(contentsOf: $0) }
                }
                switch byte {
                case UInt8(ascii: "\""): escaped("\"")
                case UInt8(ascii: "\\"): escaped("\\")
                case UInt8(ascii: "\n"): escaped("n")
                case UInt8(ascii: "\r"): escaped("r")
                case UInt8(ascii: "\t"): escaped("t")
                case 0x08: escaped("b")
                case 0x0C: escaped("f")
                case 0..<0x20:
                    escaped("u00")
                    output.append(hexDigit(byte >> 4))
                    output.append(hexDigit(byte & 0xF))
                case 0xE2 where index + 1 < bytes.count && bytes[index] == 0x80 && (bytes[index + 1] == 0xA8 || bytes[index + 1] == 0xA9):
                    escaped(bytes[index + 1] == 0xA8 ? "u2028" : "u2029")
                    index += 2
                default: output.append(byte)
                }
                runStart = index
            }
            output.append(0x22)
            return String(decoding: output, as: UTF8.self)
        }
    }

    /// The end of the run of string bytes from `start` that need no attention: all but `"`, `\`
    /// and control characters, and, for ``quote(_:)``, 0xE2 (which may begin U+2028/U+2029).
    /// The parser and the writer scan with it and take each run whole.
    static func plainRunEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, alsoStoppingAtE2: Bool) -> Int {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x22 || byte == 0x5C || (alsoStoppingAtE2 && byte == 0xE2) { break }
            index += 1
        }
        return index
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// A `usage` object: `prompt_tokens`, `completion_tokens`, `total_tokens`[, details].
    public static func usage(_ usage: Usage) -> String {
        var text = "{\"prompt_tokens\":\(usage.promptTokens),\"completion_tokens\":\(usage.completionTokens),\"total_tokens\":\(usage.totalTokens)"
        if let details = usage.completionTokensDetails {
            text += ",\"completion_tokens_details\":{\"reasoning_tokens\":\(details.reasoningTokens)}"
        }
        return text + "}"
    }
}

extension JSONText {
    /// `value` as compact JSON with object keys sorted: one stable text for a value, which parses
    /// back to the same value (`40.0` stays a double).
    public static func compact(_ value: JSONValue) -> String {
        write(value, integralDoublesAsIntegers: false)
    }

    /// `value` as ``compact(_:)`` writes it, but numbers as `JSONEncoder` writes them: an integral
    /// double up to 2^53 without its fraction. For an upstream server whose integer fields refuse
    /// `40.0` (Go's and serde's readers do).
    public static func compactForUpstream(_ value: JSONValue) -> String {
        write(value, integralDoublesAsIntegers: true)
    }

    private static func write(_ value: JSONValue, integralDoublesAsIntegers: Bool) -> String {
        switch value {
        case .null: "null"
        case .bool(let bool): bool ? "true" : "false"
        case .int(let int): String(int)
        case .double(let double) where integralDoublesAsIntegers && double.rounded() == double && abs(double) <= 0x1p53: String(Int(double))
        case .double(let double): double.isFinite ? "\(double)" : "null"
        case .string(let string): quote(string)
        case .array(let elements): "[" + elements.map { write($0, integralDoublesAsIntegers: integralDoublesAsIntegers) }.joined(separator: ",") + "]"
        case .object(let members):
            "{" + members.sorted { $0.key < $1.key }.map { quote($0.key) + ":" + write($0.value, integralDoublesAsIntegers: integralDoublesAsIntegers) }
                .joined(separator: ",") + "}"
        }
    }
}
