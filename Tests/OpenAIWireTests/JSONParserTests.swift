import OpenAIWire
import Testing

struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5, 3e2, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(value == ["a": [1, -2.5, 300.0, true, false, nil, "x\né😀"], "b": [:]])
    }

    @Test func aBudgetBoundsValuesAndContainersApart() throws {
        let budget = JSONParser.Budget(values: 5, containers: 3)
        // 5 values, 3 of them arrays or objects: within.
        #expect(try JSONParser.parse(Array(#"[[1],{"a":2}]"#.utf8), budget: budget) == [[1], ["a": 2]])
        // A sixth value; a fourth array.
        for over in [#"[[1],{"a":2},3]"#, #"[[],[],[]]"#] {
            do {
                _ = try JSONParser.parse(Array(over.utf8), budget: budget)
                Issue.record("\(over) was accepted")
            } catch {
                #expect(error.overBudget, "\(error)")
            }
        }
        // Without a budget, and for a malformed document, nothing is over budget.
        #expect(try JSONParser.parse(String(repeating: "[", count: 30) + String(repeating: "]", count: 30)) != .null)
        #expect(throws: JSONParser.SyntaxError(message: "expected ',' or ']' in an array", offset: 2)) { try JSONParser.parse("[1}") }
    }

    @Test func keepsIntegersApartFromFloats() throws {
        #expect(try JSONParser.parse("5") == .int(5))
        #expect(try JSONParser.parse("5.0") == .double(5))
        #expect(try JSONParser.parse("-0") == .int(0))
    }

    @Test(arguments: [
        (#"{"a": 1, "a": 2}"#, "duplicate key \"a\""),
        (#"{"a": 1} x"#, "unexpected data after the JSON document"),
        (#"{"a": 01}"#, "leading zeros are not allowed in numbers"),
        (#"{"a": "\ud800"}"#, "lone high surrogate in a \\u escape"),
        (#"{"a": tru}"#, "invalid literal, expected 'true'"),
        (#"{"a": 1,}"#, "expected a string key"),
        ("", "unexpected end of JSON"),
        ("\"a\tb\"", "control character in a string must be escaped"),
        ("1e999", "number out of range"),
    ])
    func rejectsMalformedDocuments(text: String, message: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(text) }
        do {
            _ = try JSONParser.parse(text)
        } catch {
            #expect(error.message == message)
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let bytes: [UInt8] = Array(#"{"a":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(throws: JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 6)) { try JSONParser.parse(bytes) }
    }

    /// Each is refused, including those whose replacement (U+FFFD, 3 bytes) is as long as they are,
    /// surrogates, overlong forms and U+FFFD's own bytes cut short.
    @Test(arguments: [
        [0xF0, 0x9F, 0x98], [0xED, 0xA0, 0x80], [0xE0, 0x80, 0xAF], [0xEF, 0xBF], [0xC0, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xFE],
    ] as [[UInt8]])
    func rejectsEveryKindOfInvalidUTF8(bad: [UInt8]) throws {
        let bytes: [UInt8] = Array(#"{"a":"x"#.utf8) + bad + Array(#"y"}"#.utf8)
        #expect(throws: JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 6)) { try JSONParser.parse(bytes) }
    }

    /// Random bytes between the quotes (no quote, backslash or control byte), weighted towards
    /// UTF-8's lead and continuation bytes: the parser accepts exactly what the standard library's
    /// validating decoder accepts, with the same text, and points at the string when it refuses.
    @Test func acceptsTheUTF8TheStandardLibraryAcceptsAndNothingElse() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [ClosedRange<UInt8>] = [0x20...0x21, 0x23...0x5B, 0x5D...0x7F, 0x80...0xBF, 0xC0...0xDF, 0xE0...0xEF, 0xF0...0xFF]
        var accepted = 0
        for _ in 0..<20_000 {
            let run = (0..<Int.random(in: 0...6, using: &generator)).map { _ in
                UInt8.random(in: alphabet.randomElement(using: &generator)!, using: &generator)
            }
            let bytes = Array(#"{"k":"a"#.utf8) + run + Array(#"z"}"#.utf8)
            let reference = String(validating: run, as: UTF8.self)
            do {
                let value = try JSONParser.parse(bytes)
                #expect(reference != nil, "accepted \(run)")
                #expect(value == .object(["k": .string("a" + (reference ?? "") + "z")]))
                accepted += 1
            } catch {
                #expect(reference == nil, "refused \(run): \(error)")
                #expect(error == JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 6))
            }
        }
        #expect(accepted > 1_000 && accepted < 19_000)  // both sides drawn often
    }

    @Test(arguments: ["é", "€ 2", "😀", "\u{FFFD}", "中文 and ASCII", "a\u{10FFFF}"])
    func keepsValidUTF8OfEveryLength(text: String) throws {
        #expect(try JSONParser.parse(Array("[\"\(text)\"]".utf8)) == .array([.string(text)]))
    }

    @Test func invalidUTF8AfterAnEscapeIsReportedAtItsRun() {
        // The run after the escape holds the bad byte: the offset is where that run starts.
        let bytes: [UInt8] = Array(#"["ok\n"#.utf8) + [0xE2, 0x82] + Array(#"x"]"#.utf8)
        #expect(throws: JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 6)) { try JSONParser.parse(bytes) }
        // A character cut by an escape is not whole on either side.
        let cut: [UInt8] = Array(#"[""#.utf8) + [0xC3] + Array(#"\u00a9"]"#.utf8)
        #expect(throws: JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 2)) { try JSONParser.parse(cut) }
        // Bad bytes before a bad escape: the first fault is the one reported.
        let twice: [UInt8] = Array(#"[""#.utf8) + [0xFF] + Array(#"\q"]"#.utf8)
        #expect(throws: JSONParser.SyntaxError(message: "invalid UTF-8 in a string", offset: 2)) { try JSONParser.parse(twice) }
    }

    @Test func stringsRoundTripThroughQuoting() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\u{01}", "\u{1F}", "é", "€", "😀", "\u{7F}", "\u{FFFD}", "ß", "日本", "\u{2028}", String(repeating: "run", count: 100)]
        for _ in 0..<2_000 {
            let string = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            #expect(try JSONParser.parse(JSONText.quote(string)) == .string(string))
            // The same string written entirely as \u escapes (surrogate pairs above the BMP).
            let escaped = string.utf16.map { "\\u" + String(repeating: "0", count: 4 - String($0, radix: 16).count) + String($0, radix: 16) }.joined()
            #expect(try JSONParser.parse("\"" + escaped + "\"") == .string(string))
        }
    }

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(deep) }
        let allowed = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser.parse(allowed)
    }
}
