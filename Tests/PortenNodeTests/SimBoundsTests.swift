import OpenAIWire
import PortenNode
import Testing

/// The sim engine's work is bounded whatever a request's schema or text says (issue #18, findings 5 and 6).
struct SimBoundsTests {
    private func instance(_ schema: String) throws -> JSONValue {
        SimJSON.instance(of: try JSONParser.parse(schema), text: "hello", number: 7)
    }

    private func count(_ value: JSONValue) -> Int {
        switch value {
        case .array(let items): 1 + items.reduce(0) { $0 + count($1) }
        case .object(let members): 1 + members.values.reduce(0) { $0 + count($1) }
        default: 1
        }
    }

    @Test func outOfRangeBoundsAreClampedNotTrapped() throws {
        #expect(try instance(#"{"type":"array","maxItems":-1,"items":{"type":"string"}}"#) == .array([]))
        #expect(try instance(#"{"type":"integer","minimum":1e300}"#) == .int(9_000_000_000_000_000_000))
        #expect(try instance(#"{"type":"integer","maximum":-1e300}"#) == .int(-9_000_000_000_000_000_000))
        #expect(try instance(#"{"type":"string","maxLength":-5}"#) == .string(""))
        #expect(try instance(#"{"type":"string","maxLength":3}"#) == .string("hel"))
    }

    @Test func hugeOrNestedArraysStayWithinTheValueBudget() throws {
        let huge = try instance(#"{"type":"array","minItems":1000000000,"items":{"type":"integer"}}"#)
        #expect(count(huge) <= SimJSON.maximumValues + 1)
        let nested = #"{"type":"array","minItems":50,"items":"# + String(repeating: #"{"type":"array","minItems":50,"items":"#, count: 5)
            + #"{"type":"string"}"# + String(repeating: "}", count: 6)
        #expect(count(try instance(nested)) <= SimJSON.maximumValues + 1)
        // Within the budget, minItems is honoured exactly.
        #expect(try instance(#"{"type":"array","minItems":50,"items":{"type":"boolean"}}"#) == .array(Array(repeating: .bool(true), count: 50)))
    }

    @Test func deepSchemasEndInNull() throws {
        let deep = String(repeating: #"{"type":"array","items":"#, count: 200) + #"{"type":"string"}"# + String(repeating: "}", count: 200)
        // Deeper than a request may be (the parser stops at 64), built here to reach the engine's own limit.
        var value = SimJSON.instance(of: try JSONParser.parse(Array(deep.utf8), maximumDepth: 1000), text: "hello", number: 7)
        var depth = 0
        while case .array(let items) = value, let first = items.first {
            value = first
            depth += 1
        }
        #expect(depth == SimJSON.maximumDepth && value == .null)
    }

    @Test func longWhitespaceRunsTokenizeLosslessly() {
        let text = String(repeating: " ", count: 200_000) + "word" + String(repeating: "\n", count: 100_000)
        let tokens = SimTokenizer.tokens(text)
        #expect(tokens.count == 2 && tokens.joined() == text)
    }
}
