import OpenAIWire
import Testing

/// Numbers and fields from outside that once crashed or leaked through (issue #18).
struct HardeningWireTests {
    @Test(arguments: ["1e16", "1e300", "9223372036854775807", "1.7976931348623157e308"])
    func hugeWarmupBudgetsMeanTheHubsBudget(_ value: String) {
        #expect(HeaderSeconds.parse(value, limit: .seconds(300)) == .seconds(300))
    }

    @Test(arguments: ["0x1p70", "inf", "nan", "-1", "", "abc", "1s", "  ", "1e", "--1"])
    func malformedBudgetsAreRefused(_ value: String) {
        #expect(HeaderSeconds.parse(value, limit: .seconds(300)) == nil)
    }

    @Test func ordinaryBudgetsAreMilliseconds() {
        #expect(HeaderSeconds.parse(" 2.5 ", limit: .seconds(300)) == .milliseconds(2500))
        #expect(HeaderSeconds.parse("0", limit: .seconds(300)) == .zero)
        #expect(HeaderSeconds.parse("299.9994", limit: .seconds(300)) == .milliseconds(299_999))
    }

    @Test func onlyValidatedFieldsGoUpstream() throws {
        let body = try JSONParser.parse(
            #"""
            {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi","cache_control":{}}],"image_url":"http://x/y.png"}],
             "max_tokens":3,"n_predict":100000,"id_slot":1,"grammar":"root ::= x","lora":[{"id":0}],"cache_prompt":true,
             "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}},"x_extra":1}],"temperature":0.5}
            """#)
        let forwarded = ForwardedFields.chat(body)
        #expect(
            forwarded
                == (try JSONParser.parse(
                    #"""
                    {"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":3,
                     "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"temperature":0.5}
                    """#)))
        let embeddings = ForwardedFields.embeddings(try JSONParser.parse(#"{"model":"e","input":["a"],"truncate":false,"dimensions":8}"#))
        #expect(embeddings == (try JSONParser.parse(#"{"model":"e","input":["a"],"dimensions":8}"#)))
    }
}
