import Foundation
import PortenConformance
import Testing

/// Each semantic rule catches the SDK-breaking answer it is for and passes the right one.
struct SemanticsTests {
    private func json(_ text: String) throws -> JSON { try StrictJSON.parse(text) }

    private func completion(content: String = "Hello", finish: String = "stop", usage: String = #"{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}"#,
                            calls: String? = nil) throws -> JSON {
        let message = calls.map { #"{"role":"assistant","content":null,"tool_calls":\#($0)}"# } ?? #"{"role":"assistant","content":\#(JSON.string(content))}"#
        return try json(#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"finish_reason":"\#(finish)","message":\#(message)}],"usage":\#(usage)}"#)
    }

    private func reasons(_ answer: JSON, _ request: String) throws -> [String] {
        Semantics.chat(answer, request: try json(request)).map(\.reason)
    }

    @Test func aRightAnswerPasses() throws {
        #expect(try reasons(completion(), #"{"max_tokens":2,"stop":["x"]}"#).isEmpty)
    }

    @Test func usageMustAddUpAndStayWithinTheLimit() throws {
        #expect(try reasons(completion(usage: #"{"prompt_tokens":5,"completion_tokens":2,"total_tokens":9}"#), "{}") == ["total_tokens is not the sum of its parts"])
        #expect(try reasons(completion(usage: #"{"prompt_tokens":5,"completion_tokens":50,"total_tokens":55}"#), #"{"max_tokens":3}"#)
            == ["more completion tokens than the request's limit of 3"])
        #expect(try reasons(completion(usage: #"{"prompt_tokens":5,"completion_tokens":50,"total_tokens":55}"#), #"{"max_completion_tokens":3,"max_tokens":90}"#).count == 1)
    }

    @Test func theStopSequenceNeverAppears() throws {
        #expect(try reasons(completion(content: "Septem"), #"{"stop":"ber"}"#).isEmpty)
        #expect(try reasons(completion(content: "September"), #"{"stop":["xyz","ber"]}"#).first?.contains("stop sequence") == true)
    }

    @Test func jsonModesAreHonoured() throws {
        let object = #"{"response_format":{"type":"json_object"}}"#
        #expect(try reasons(completion(content: #"{"a":1}"#), object).isEmpty)
        #expect(try reasons(completion(content: "Sure! Here it is."), object).first?.contains("does not parse") == true)
        #expect(try reasons(completion(content: "[1]"), object) == ["JSON mode answers an object"])
        // Cut by the token limit, the JSON may be unfinished.
        #expect(try reasons(completion(content: #"{"a":"#, finish: "length"), object).isEmpty)
        let schema = #"{"response_format":{"type":"json_schema","json_schema":{"name":"p","strict":true,"schema":{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0}},"required":["name","age"],"additionalProperties":false}}}}"#
        #expect(try reasons(completion(content: #"{"name":"Ada","age":36}"#), schema).isEmpty)
        #expect(try Set(reasons(completion(content: #"{"name":7,"extra":true}"#), schema)) == [
            "the required property \"age\" is missing", "expected string, got integer", "a property the schema does not allow (additionalProperties: false)",
        ])
    }

    private let tools = #""tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}}]"#

    private func call(_ name: String, _ arguments: String, id: String = "call_1") -> String {
        #"{"id":"\#(id)","type":"function","function":{"name":"\#(name)","arguments":\#(JSON.string(arguments))}}"#
    }

    @Test func toolCallsMatchTheDeclaredTools() throws {
        let request = "{\(tools)}"
        #expect(try reasons(completion(finish: "tool_calls", calls: "[\(call("get_weather", #"{"city":"Paris"}"#))]"), request).isEmpty)
        #expect(try reasons(completion(finish: "tool_calls", calls: "[\(call("get_weather", "city=Paris"))]"), request)
            == ["the arguments are not JSON: the application cannot json.loads them"])
        #expect(try reasons(completion(finish: "tool_calls", calls: "[\(call("get_weather", "{}"))]"), request) == ["the required property \"city\" is missing"])
        #expect(try reasons(completion(finish: "tool_calls", calls: "[\(call("launch", "{}"))]"), request) == ["calls a tool the request did not declare"])
        let two = "[\(call("get_time", "{}")),\(call("get_time", "{}", id: "call_2"))]"
        #expect(try reasons(completion(finish: "tool_calls", calls: two), #"{"parallel_tool_calls":false,\#(tools)}"#)
            == ["parallel_tool_calls false allows one call, got 2"])
        #expect(try reasons(completion(finish: "tool_calls", calls: "[\(call("get_time", "{}"))]"), #"{"tool_choice":"none",\#(tools)}"#)
            == ["tool_choice none, yet the answer calls tools"])
        #expect(try reasons(completion(finish: "stop", calls: "[\(call("get_weather", #"{"city":"x"}"#))]"),
                            #"{"tool_choice":{"type":"function","function":{"name":"get_time"}},\#(tools)}"#) == ["tool_choice names \"get_time\""])
        #expect(try reasons(completion(finish: "tool_calls"), request) == ["finish_reason tool_calls without any tool call"])
    }

    @Test func choicesAreIndexedWithinN() throws {
        let answer = try json(#"{"choices":[{"index":1,"finish_reason":"stop","message":{"role":"assistant","content":"x"}}]}"#)
        #expect(try reasons(answer, "{}") == ["choice indexes are 0…0, each once, for n = 1"])
        #expect(try reasons(answer, #"{"n":2}"#).isEmpty)
    }

    private func floats(_ vectors: [[Float]]) -> String {
        #"{"object":"list","data":[\#(vectors.enumerated().map { #"{"object":"embedding","index":\#($0),"embedding":[\#($1.map { "\($0)" }.joined(separator: ","))]}"# }.joined(separator: ","))],"usage":{"prompt_tokens":2,"total_tokens":2}}"#
    }

    private func base64(_ vectors: [[Float]]) -> String {
        let encoded = vectors.map { vector in Data(vector.flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) } }).base64EncodedString() }
        return #"{"object":"list","data":[\#(encoded.enumerated().map { #"{"object":"embedding","index":\#($0),"embedding":"\#($1)"}"# }.joined(separator: ","))],"usage":{"prompt_tokens":2,"total_tokens":2}}"#
    }

    @Test func embeddingsAreOneNumericVectorPerInputOfOneWidth() throws {
        let request = try json(#"{"input":["a","b"]}"#)
        #expect(Semantics.embeddings(try json(floats([[0.1, 0.2], [0.3, 0.4]])), request: request).isEmpty)
        #expect(Semantics.embeddings(try json(floats([[0.1, 0.2], [0.3]])), request: request).map(\.reason) == ["every vector of one answer has the same width"])
        #expect(Semantics.embeddings(try json(floats([[], []])), request: request).map(\.reason) == ["an empty vector", "an empty vector"])
        #expect(Semantics.embeddings(try json(floats([[0.1, 0.2]])), request: request).map(\.reason) == ["one embedding per input: 2 inputs"])
        #expect(Semantics.embeddings(try json(floats([[0.1, 0.2], [0.3, 0.4]])), request: try json(#"{"input":["a","b"],"dimensions":3}"#)).count == 1)
    }

    @Test func base64DecodesToTheFloatAnswer() throws {
        let request = try json(#"{"input":["a","b"],"encoding_format":"base64"}"#)
        let vectors: [[Float]] = [[0.125, -0.5, 0.333], [1, 2, 3]]
        #expect(Semantics.embeddings(try json(base64(vectors)), request: request, floats: try json(floats(vectors))).isEmpty)
        #expect(Semantics.embeddings(try json(base64(vectors)), request: request, floats: try json(floats([[0.9, 0.9, 0.9], [1, 2, 3]]))).map(\.pointer)
            == ["/data/0/embedding"])
        let broken = try json(#"{"data":[{"object":"embedding","index":0,"embedding":"not base64!"},{"object":"embedding","index":1,"embedding":"AAAAAAA="}]}"#)
        // Not base64; and 5 bytes, not a whole number of float32 values.
        #expect(Semantics.embeddings(broken, request: request).map(\.pointer) == ["/data/0/embedding", "/data/1/embedding"])
    }

    @Test func everyGoldenIsWrittenAsTheSuiteWritesIt() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Golden").standardized
        let goldens = try Golden.load(from: root.path)
        #expect(goldens.count >= 60)
        for golden in goldens {
            let text = try String(contentsOfFile: golden.file, encoding: .utf8)
            #expect(StrictJSON.pretty(try StrictJSON.parse(text)) + "\n" == text, "\(golden.file)")
        }
        // Numbers are printed as written, not as their nearest binary double.
        #expect(StrictJSON.canonical(try json("[29.406,0.1,1e-05,2.0,3]")) == "[29.406,0.1,1e-05,2.0,3]")
    }
}
