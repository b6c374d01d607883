import PortenConformance
import Testing

struct MatcherTests {
    private func json(_ text: String) throws -> JSON { try StrictJSON.parse(text) }

    private func mismatches(_ expected: String, _ actual: String, masks: [String] = []) throws -> [Mismatch] {
        var matcher = Matcher(masks: masks)
        return matcher.match(try json(expected), try json(actual))
    }

    @Test func janssonIsStrict() {
        #expect(throws: StrictJSON.ParseError.self) { try StrictJSON.parse(#"{"a":1,"a":2}"#) }
        #expect(throws: StrictJSON.ParseError.self) { try StrictJSON.parse(#"{"a":1} trailing"#) }
        #expect(throws: StrictJSON.ParseError.self) { try StrictJSON.parse([0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]) }  // invalid UTF-8
        #expect((try? StrictJSON.parse(#"{"a":"x\u0000y"}"#))?["a"]?.string == "x\u{0}y")  // valid JSON, kept
        #expect((try? StrictJSON.parse(#"{"b":[1,2.5,"x",null,true],"a":{}}"#))?.description == #"{"a":{},"b":[1,2.5,"x",null,true]}"#)
    }

    @Test(arguments: [
        (#"{"a":1}"#, #"{"a":1}"#, [String]()),
        (#"{"a":1}"#, #"{"a":1.0}"#, ["/a: expected integer, got number"]),
        (#"{"a":null}"#, #"{}"#, ["/a: missing"]),
        (#"{}"#, #"{"extra":1}"#, ["/extra: unexpected key"]),
        (#"{"a":[1,2]}"#, #"{"a":[1]}"#, ["/a: expected 2 elements, got 1"]),
        (#"{"a":"<STR>","b":"<INT>","c":"<NUM>","d":"<BOOL>","e":"<OBJ>","f":"<ARR>","g":"<ANY>"}"#, #"{"a":"x","b":3,"c":2.5,"d":false,"e":{},"f":[],"g":null}"#, []),
        (#"{"a":"<INT>"}"#, #"{"a":"3"}"#, ["/a: expected an integer"]),
        (#"{"a":"<ABSENT>","b":"<NULL|ABSENT>","c":"<NULL|ABSENT>"}"#, #"{"c":null}"#, []),
        (#"{"a":"<ABSENT>"}"#, #"{"a":null}"#, ["/a: must be absent"]),
        (#"{"a":"<REGEX:^call_[0-9a-f]+$>"}"#, #"{"a":"call_9f"}"#, []),
        (#"{"a":"<REGEX:^call_>"}"#, #"{"a":"fn_1"}"#, ["/a: does not match /^call_/"]),
        (#"{"a":"<JSON:{\"x\":[1,\"<STR>\"]}>"}"#, #"{"a":"{\"x\": [1, \"y\"]}"}"#, []),
        (#"{"a":"<JSON:{\"x\":1}>"}"#, #"{"a":"{\"x\":2}"}"#, ["/a/x: different value"]),
        (#"{"a":"<<STR>>"}"#, #"{"a":"<STR>"}"#, []),
        (#"{"a":"<$id:STR>","b":"<$id>"}"#, #"{"a":"x","b":"y"}"#, ["/b: differs from <$id> seen earlier"]),
        (#"{"k/x":{"m~":1}}"#, #"{"k/x":{"m~":2}}"#, ["/k~1x/m~0: different value"]),
    ])
    func placeholdersAndPointers(expected: String, actual: String, problems: [String]) throws {
        #expect(try mismatches(expected, actual).map { "\($0.pointer): \($0.reason)" } == problems)
    }

    @Test func masksSkipVolatileFieldsAtAnyDepth() throws {
        #expect(try mismatches(#"{"a":{"b":1}}"#, #"{"a":{"b":1,"fp":"x"},"fp":"y"}"#, masks: ["/**/fp"]).isEmpty)
        #expect(try mismatches(#"{"c":[{"v":1},{"v":2}]}"#, #"{"c":[{"v":9},{"v":8}]}"#, masks: ["/c/*/v"]).isEmpty)
        #expect(Matcher.pointer("/choices/0/delta", matches: "/choices/*/delta"))
        #expect(!Matcher.pointer("/choices/0/delta/x", matches: "/choices/*/delta"))
    }

    @Test func bindingsHoldAcrossDocuments() throws {
        var matcher = Matcher()
        #expect(matcher.match(try json(#"{"id":"<$id:STR>"}"#), try json(#"{"id":"c1"}"#)).isEmpty)
        #expect(matcher.match(try json(#"{"id":"<$id>"}"#), try json(#"{"id":"c2"}"#)).count == 1)
    }

    @Test func framingFailsWhatBreaksAClientAndWarnsOnWhatTheSDKsTolerate() {
        func problems(_ text: String, _ severity: Mismatch.Severity = .fail) -> [String] {
            SSEFraming.check(Array(text.utf8)).problems.filter { $0.severity == severity }.map(\.reason)
        }
        func all(_ text: String) -> [Mismatch] { SSEFraming.check(Array(text.utf8)).problems }
        #expect(all("data: {}\n\ndata: [DONE]\n\n").isEmpty)
        #expect(SSEFraming.check(Array("data: {}\n\n: ping\n\ndata: [DONE]\n\n".utf8)).payloads == ["{}", "[DONE]"])
        // The Hub's keep-alive comments while a cold model loads come before the first chunk.
        let warming = ": porten warming downloading 42%\n\n: porten warming loading 7%\n\ndata: {}\n\ndata: [DONE]\n\n"
        #expect(SSEFraming.check(Array(warming.utf8)).payloads == ["{}", "[DONE]"] && all(warming).isEmpty)
        #expect(problems("data: {}\n\n") == ["no data: [DONE] at the end"])
        #expect(problems("data: [DONE]\n\ndata: {}\n\n") == ["events after data: [DONE]"])
        #expect(problems("event: x\ndata: {}\n\ndata: [DONE]\n\n").contains { $0.contains("'event: x'") })
        #expect(problems("data: {}\n\ndata: [DONE]").contains { $0.contains("blank line") })
        // Variants the SDKs decode the same: warnings, and the payloads as the SDK sees them.
        for variant in ["data:{}\n\ndata:[DONE]\n\n", "data: {}\r\n\r\ndata: [DONE]\r\n\r\n", "data: {}\r\rdata: [DONE]\r\r",
                        "id: 1\ndata: {}\n\nretry: 5\ndata: [DONE]\n\n", "data: {}\n\n\n\ndata: [DONE]\n\n"] {
            #expect(problems(variant).isEmpty, "\(variant.debugDescription)")
            #expect(!problems(variant, .warn).isEmpty, "\(variant.debugDescription)")
            #expect(SSEFraming.check(Array(variant.utf8)).payloads == ["{}", "[DONE]"], "\(variant.debugDescription)")
        }
        #expect(SSEFraming.check(Array("data: {\"a\":\ndata: 1}\n\ndata: [DONE]\n\n".utf8)).payloads == ["{\"a\":\n1}", "[DONE]"])
    }

    @Test func aDeclarationCoversOnlyWhatTheTargetIsKnownToSend() {
        func declared(_ pointer: String, _ actual: String, layer: String = "body", in id: String = "errors.wrong_type") -> Bool {
            Profile.llamaCpp.declared(Mismatch(pointer: pointer, expected: "-", actual: actual, reason: "-"), layer: layer, inCase: id) != nil
        }
        #expect(declared("/error/code", "400"))
        #expect(!declared("/error/code", #""400""#))  // a proxy's string code is not llama-server's integer
        #expect(declared("/error/param", "(absent)"))
        #expect(!declared("/error/param", #""request_body""#))
        #expect(declared("", #"200 {"choices":[]}"#, layer: "status", in: "errors.model_not_found"))
        #expect(!declared("", #"400 {"error":{}}"#, layer: "status", in: "errors.model_not_found"))
        #expect(declared("/error/code", "400", in: "chat.basic"))  // "*" covers every case…
        #expect(!declared("/error/type", #""auth_error""#, in: "errors.invalid_api_key"))  // …but only with the value it names
    }
}
