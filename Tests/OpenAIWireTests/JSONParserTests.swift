import OpenAIWire
import Testing

struct JSONParserTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try JSONParser.parse(#" {"a": [1, -2.5, 3e2, true, false, null, "x\n\u00e9\ud83d\ude00"], "b": {}} "#)
        #expect(value == ["a": [1, -2.5, 300.0, true, false, nil, "x\né😀"], "b": [:]])
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

    @Test func limitsNestingDepth() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(deep) }
        let allowed = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        _ = try JSONParser.parse(allowed)
    }
}
