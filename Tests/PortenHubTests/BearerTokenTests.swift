import HTTPTypes
import Testing

@testable import PortenHub

struct BearerTokenTests {
    @Test(arguments: [
        ("Bearer sk-porten-abc", "sk-porten-abc"),
        ("bearer sk-porten-abc", "sk-porten-abc"),
        ("BEARER \t sk-porten-abc  ", "sk-porten-abc"),
        ("Bearer", nil),
        ("Bearer    ", nil),
        ("Basic dXNlcjpwYXNz", nil),
        ("Bearerx sk", nil),
        ("Bear sk", nil),
        ("", nil),
    ] as [(String, String?)])
    func theSchemeIsCaseInsensitiveAndTheTokenTrimmed(_ header: String, _ token: String?) {
        var fields = HTTPFields()
        fields[.authorization] = header
        #expect(fields.bearerToken == token)
    }

    @Test func noHeaderNoToken() {
        #expect(HTTPFields().bearerToken == nil)
    }
}
