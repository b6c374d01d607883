/// A strict RFC 8259 JSON parser over raw bytes.
///
/// Strict where clients can be wrong: it rejects invalid UTF-8, duplicate object keys, trailing
/// garbage, lone surrogates, leading zeros and nesting deeper than ``maximumDepth`` — each with
/// the byte offset in ``JSONParser/SyntaxError``, so a 400 can say where the body went wrong.
public struct JSONParser {
    /// Why a document was rejected and where.
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public let offset: Int
        /// The document holds more than its ``Budget`` allows (it may be valid JSON).
        public let overBudget: Bool
        public var description: String { "\(message) at byte \(offset)" }

        public init(message: String, offset: Int, overBudget: Bool = false) {
            self.message = message
            self.offset = offset
            self.overBudget = overBudget
        }
    }

    /// How many values one document may hold, and of those how many objects and arrays: what its
    /// tree costs in memory (16 bytes a value, an allocation of its own for each object and
    /// array), for a party whose small text could otherwise expand into a large tree (`[[0],[0],…]`
    /// costs about 16 times its bytes).
    public struct Budget: Sendable {
        public var values: Int
        public var containers: Int

        public init(values: Int, containers: Int) {
            self.values = values
            self.containers = containers
        }
    }

    /// Documents nested deeper than this are rejected rather than risking the stack.
    public static let defaultMaximumDepth = 64

    private let bytes: [UInt8]
    private let maximumDepth: Int
    private let budget: Budget?
    /// What the budget has left (unbounded without one).
    private var valuesLeft: Int
    private var containersLeft: Int
    private var position = 0

    private init(bytes: [UInt8], maximumDepth: Int, budget: Budget?) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
        self.budget = budget
        valuesLeft = budget?.values ?? .max
        containersLeft = budget?.containers ?? .max
    }

    /// Parses one complete JSON document; with a `budget`, one that holds no more than it allows.
    public static func parse(
        _ bytes: some Collection<UInt8>, maximumDepth: Int = defaultMaximumDepth, budget: Budget? = nil
    ) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes), maximumDepth: maximumDepth, budget: budget)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == parser.bytes.count else {
            throw parser.error("unexpected data after the JSON document")
        }
        return value
    }

    public static func parse(_ string: String) throws(SyntaxError) -> JSONValue {
        try parse(Array(string.utf8))
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
        guard let byte = peek() else { throw error("unexpected end of JSON") }
        valuesLeft -= 1
        if byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[") { containersLeft -= 1 }
        if valuesLeft < 0 || containersLeft < 0, let budget {
            throw SyntaxError(
                message: "more than \(budget.values) values or \(budget.containers) objects and arrays", offset: position, overBudget: true)
        }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character '\(printable(byte))'")
        }
    }

    private mutating func parseObject(depth: Int) throws(SyntaxError) -> JSONValue {
        guard depth <= maximumDepth else { throw error("JSON nested deeper than \(maximumDepth) levels") }
        position += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyOffset = position
            let key = try parseString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after an object key") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            guard members.updateValue(value, forKey: key) == nil else {
                throw SyntaxError(message: "duplicate key \"\(key)\"", offset: keyOffset)
            }
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw error("expected ',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(SyntaxError) -> JSONValue {
        guard depth <= maximumDepth else { throw error("JSON nested deeper than \(maximumDepth) levels") }
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    // MARK: Strings

    private mutating func parseString() throws(SyntaxError) -> String {
        position += 1  // opening quote
        let start = position
        var runStart = position
        /// With escapes: the string's bytes so far, each raw run validated as it ended.
        var unescaped: [UInt8]?
        while true {
            guard let byte = peek() else { throw error("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                let end = position
                position += 1
                guard var unescaped else {
                    // No escapes (most strings): the bytes between the quotes, validated once.
                    if let string = utf8String(start..<end) { return string }
                    throw SyntaxError(message: "invalid UTF-8 in a string", offset: start)
                }
                try validateRun(runStart..<end)
                unescaped.append(contentsOf: bytes[runStart..<end])
                return String(decoding: unescaped, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try validateRun(runStart..<position)
                if unescaped == nil { unescaped = [] }
                unescaped?.append(contentsOf: bytes[runStart..<position])
                position += 1
                let scalar = try parseEscape()
                UTF8.encode(scalar) { unescaped?.append($0) }
                runStart = position
            case 0..<0x20:
                throw error("control character in a string must be escaped")
            default:
                // UTF-8 is validated per run, not per byte.
                let start = position + 1
                position = bytes.withUnsafeBufferPointer { JSONText.plainRunEnd($0, from: start, alsoStoppingAtE2: false) }
            }
        }
    }

    /// The bytes of `range` as a string; nil if they are not UTF-8. Not `String(validating:as:)`:
    /// it is not specialized, and looked up generic metadata for every string (1 % of the Hub's
    /// CPU at c=32 in `perf`). ASCII needs no check; otherwise the bytes are valid exactly when
    /// decoding them (which replaces each invalid sequence by U+FFFD) gives them back unchanged.
    private func utf8String(_ range: Range<Int>) -> String? {
        bytes.withUnsafeBufferPointer { buffer in
            let run = UnsafeBufferPointer(rebasing: buffer[range])
            var high: UInt8 = 0
            for byte in run { high |= byte }
            var string = String(decoding: run, as: UTF8.self)
            guard high >= 0x80 else { return string }
            return string.withUTF8 { $0.elementsEqual(run) } ? string : nil
        }
    }

    /// Throws if the raw bytes of a string between escapes are not UTF-8 on their own.
    private func validateRun(_ run: Range<Int>) throws(SyntaxError) {
        guard !run.isEmpty, utf8String(run) == nil else { return }
        throw SyntaxError(message: "invalid UTF-8 in a string", offset: run.lowerBound)
    }

    private mutating func parseEscape() throws(SyntaxError) -> Unicode.Scalar {
        guard let byte = peek() else { throw error("unterminated escape") }
        position += 1
        switch byte {
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "/"): return "/"
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let high = try parseHex4()
            if (0xD800..<0xDC00).contains(high) {
                guard peek() == UInt8(ascii: "\\"), peek(offset: 1) == UInt8(ascii: "u") else {
                    throw error("lone high surrogate in a \\u escape")
                }
                position += 2
                let low = try parseHex4()
                guard (0xDC00..<0xE000).contains(low) else { throw error("invalid low surrogate in a \\u escape") }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))!
            }
            guard let scalar = Unicode.Scalar(high) else { throw error("lone low surrogate in a \\u escape") }
            return scalar
        default:
            throw error("invalid escape '\\\(printable(byte))'")
        }
    }

    private mutating func parseHex4() throws(SyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek(), let digit = hexDigit(byte) else { throw error("expected four hex digits after \\u") }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    // MARK: Numbers and literals

    private mutating func parseNumber() throws(SyntaxError) -> JSONValue {
        let start = position
        var isInteger = true
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard let first = peek(), isDigit(first) else { throw error("expected a digit") }
        position += 1
        if first == UInt8(ascii: "0"), let next = peek(), isDigit(next) {
            throw error("leading zeros are not allowed in numbers")
        }
        skipDigits()
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard let byte = peek(), isDigit(byte) else { throw error("expected a digit after '.'") }
            skipDigits()
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard let byte = peek(), isDigit(byte) else { throw error("expected a digit in the exponent") }
            skipDigits()
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        if isInteger, let value = Int(text) { return .int(value) }
        guard let value = Double(text), value.isFinite else {
            throw SyntaxError(message: "number out of range", offset: start)
        }
        return .double(value)
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(SyntaxError) {
        let literalBytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in literalBytes {
            guard peek() == byte else { throw error("invalid literal, expected '\(literal)'") }
            position += 1
        }
    }

    // MARK: Scanning

    private func peek(offset: Int = 0) -> UInt8? {
        position + offset < bytes.count ? bytes[position + offset] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while let byte = peek(), isDigit(byte) { position += 1 }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
    }

    private func error(_ message: String) -> SyntaxError {
        SyntaxError(message: message, offset: position)
    }

    private func printable(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? String(UnicodeScalar(byte)) : "0x" + String(byte, radix: 16)
    }
}
