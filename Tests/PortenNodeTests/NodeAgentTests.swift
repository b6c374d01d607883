import PortenNode
import Testing

struct NodeAgentTests {
    @Test func backoffDoublesUpToTheMaximumAndResetsAfterAStableSession() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1), resetAfter: .seconds(30))
        let delays = (0..<6).map { _ in backoff.nextDelay(afterSessionLasting: .zero) }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(backoff.nextDelay(afterSessionLasting: .seconds(60)) == .milliseconds(100))
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/node/v1/connect"),
        ("https://hub.example/", "wss://hub.example/node/v1/connect"),
        ("wss://hub.example/node/v1/connect", "wss://hub.example/node/v1/connect"),
    ])
    func tunnelURLFromHubURL(hub: String, expected: String) throws {
        #expect(try NodeAgent.tunnelURL(forHub: hub) == expected)
    }

    @Test func rejectsAHubURLWithoutScheme() {
        #expect(throws: NodeAgentError.self) { try NodeAgent.tunnelURL(forHub: "hub.example:8080") }
    }

    @Test func severalReplicasAreCommaSeparatedAndEachIsChecked() throws {
        #expect(try NodeAgent.tunnelURLs(forHubs: "http://a:8080, https://b/") == ["ws://a:8080/node/v1/connect", "wss://b/node/v1/connect"])
        #expect(throws: NodeAgentError.self) { try NodeAgent.tunnelURLs(forHubs: "http://a:8080,b:8080") }
        #expect(throws: NodeAgentError.self) { try NodeAgent.tunnelURLs(forHubs: ",") }
    }
}
