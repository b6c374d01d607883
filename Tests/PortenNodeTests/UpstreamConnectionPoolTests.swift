import NIOCore
import NIOHTTP1
import Testing

@testable import PortenNode

@Suite struct UpstreamConnectionPoolTests {
    private func get(_ pool: UpstreamConnectionPool, _ path: String, timeout: TimeAmount = .seconds(10)) async throws -> (Int, String) {
        let response = try await pool.execute(HTTPRequestHead(version: .http1_1, method: .GET, uri: path), body: nil, timeout: timeout)
        return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    /// A test server and a pool of connections to it, both stopped after `body`.
    private func withPool(
        maximumIdle: Int = 64, _ body: (UpstreamTestServer, UpstreamConnectionPool) async throws -> Void
    ) async throws {
        let server = try await UpstreamTestServer()
        let pool = UpstreamConnectionPool(host: "127.0.0.1", port: server.port, maximumIdle: maximumIdle)
        do {
            try await body(server, pool)
        } catch {
            pool.shutdown()
            try? await server.stop()
            throw error
        }
        pool.shutdown()
        try await server.stop()
    }

    /// Waits (up to 5 s) until `condition` holds; the pool hands a connection back on its event loop.
    private func eventually(_ condition: () -> Bool) async throws {
        for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func sequentialRequestsShareOneConnection() async throws {
        try await withPool { server, pool in
            for _ in 0..<20 {
                let (status, body) = try await get(pool, "/ok")
                #expect(status == 200)
                #expect(body == #"{"ok":true,"path":"/ok"}"#)
                try await eventually { pool.idleCount == 1 }
            }
            #expect(server.accepted.load(ordering: .relaxed) == 1)
        }
    }

    @Test func concurrentRequestsOpenConnectionsAndKeepThemUpToTheLimit() async throws {
        try await withPool(maximumIdle: 3) { server, pool in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await get(pool, "/stream").0 } }
                for try await status in group { #expect(status == 200) }
            }
            #expect(server.accepted.load(ordering: .relaxed) == 8)
            try await eventually { server.closed.load(ordering: .relaxed) == 5 }
            #expect(pool.idleCount == 3)
            #expect(server.closed.load(ordering: .relaxed) == 5)
            pool.shutdown()
            try await eventually { server.closed.load(ordering: .relaxed) == 8 }
            #expect(server.closed.load(ordering: .relaxed) == 8)
        }
    }

    @Test func aConnectionTheServerClosesIsNotReused() async throws {
        try await withPool { server, pool in
            for path in ["/close", "/idle-close", "/ok", "/idle-close", "/ok"] {
                let (status, body) = try await get(pool, path)
                #expect(status == 200)
                #expect(body.contains(path))
            }
            // Every answer the server closed after (`Connection: close`, or closing the idle
            // connection) makes the next request open a new one; only `/ok` leaves one to reuse.
            #expect(server.accepted.load(ordering: .relaxed) == 4)
        }
    }

    @Test func theBodyAndHeadersAreSent() async throws {
        let server = try await UpstreamTestServer()
        let upstream = UpstreamHTTP(baseURL: "http://127.0.0.1:\(server.port)/", apiKey: "sk-test", client: .shared)
        let json = try await upstream.json("POST", "/ok", body: .object(["model": .string("m")]), timeout: .seconds(5))
        #expect(json["ok"] == .bool(true))
        let seen = try #require(server.lastRequest.withLock { $0 })
        #expect(seen.authorization == "Bearer sk-test")
        #expect(seen.contentType == "application/json")
        #expect(seen.body == #"{"model":"m"}"#)
        try await server.stop()
    }

    @Test func anUpstreamThatNeverAnswersFailsAtTheDeadlineAndItsConnectionIsClosed() async throws {
        try await withPool { server, pool in
            await #expect(throws: UpstreamTimeout.self) { try await get(pool, "/silent", timeout: .milliseconds(300)) }
            try await eventually { server.closed.load(ordering: .relaxed) == 1 }
            #expect(server.closed.load(ordering: .relaxed) == 1)
            #expect(pool.idleCount == 0)
        }
    }

    @Test func aReaderThatStopsEarlyClosesTheConnection() async throws {
        try await withPool { server, pool in
            let response = try await pool.execute(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/stream"), body: nil, timeout: .seconds(10))
            var seen = 0
            for try await _ in response.body {
                seen += 1
                if seen == 3 { break }
            }
            // The rest of the stream is not read: the upstream sees the close and stops generating.
            try await eventually { server.closed.load(ordering: .relaxed) == 1 }
            #expect(server.closed.load(ordering: .relaxed) == 1)
            #expect(pool.idleCount == 0)
            // The next request gets a new connection.
            #expect(try await get(pool, "/ok").0 == 200)
            #expect(server.accepted.load(ordering: .relaxed) == 2)
        }
    }

    @Test func aCancelledRequestClosesItsConnection() async throws {
        try await withPool { server, pool in
            let task = Task { try await get(pool, "/silent") }
            try await eventually { server.accepted.load(ordering: .relaxed) == 1 }
            try await Task.sleep(for: .milliseconds(50))
            task.cancel()
            await #expect(throws: (any Error).self) { try await task.value }
            try await eventually { server.closed.load(ordering: .relaxed) == 1 }
            #expect(server.closed.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aReaderThatSaysItIsDoneLetsTheRestBeReadAndTheConnectionReused() async throws {
        try await withPool { server, pool in
            for _ in 0..<3 {
                let response = try await pool.execute(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/stream-done"), body: nil, timeout: .seconds(10))
                for try await buffer in response.body where String(buffer: buffer).contains("[DONE]") {
                    response.finishReading()
                    break
                }
                try await eventually { pool.idleCount == 1 }
            }
            #expect(server.accepted.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aCancelledRequestIsNotSentAgainOnOtherConnections() async throws {
        try await withPool { server, pool in
            // Three idle connections.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<3 { group.addTask { _ = try await get(pool, "/stream") } }
                try await group.waitForAll()
            }
            try await eventually { pool.idleCount == 3 }
            let task = Task { try await get(pool, "/silent") }
            try await eventually { server.paths.withLock { $0.contains("/silent") } }
            task.cancel()
            await #expect(throws: (any Error).self) { try await task.value }
            try await Task.sleep(for: .milliseconds(200))
            #expect(server.paths.withLock { $0.filter { $0 == "/silent" }.count } == 1)
            #expect(pool.idleCount == 2)
        }
    }

    @Test func aRequestTheServerDroppedAsItArrivedIsSentOnceMoreOnANewConnection() async throws {
        try await withPool { server, pool in
            #expect(try await get(pool, "/arm-drop").0 == 200)
            try await eventually { pool.idleCount == 1 }
            let (status, body) = try await get(pool, "/ok")
            #expect(status == 200 && body.contains("/ok"))
            #expect(server.paths.withLock { $0 } == ["/arm-drop", "/ok", "/ok"])
            #expect(server.accepted.load(ordering: .relaxed) == 2)
        }
    }

    @Test func aServerThatFailsWhileWorkingIsNotSentTheRequestAgain() async throws {
        try await withPool { server, pool in
            _ = try await get(pool, "/ok")
            try await eventually { pool.idleCount == 1 }
            await #expect(throws: UpstreamConnectionClosed.self) { try await get(pool, "/slow-drop") }
            #expect(server.paths.withLock { $0 } == ["/ok", "/slow-drop"])
            pool.shutdown()
            await #expect(throws: UpstreamPoolShutDown.self) { try await get(pool, "/ok") }
        }
    }

    @Test func anIPv6UpstreamGetsABracketedHost() async throws {
        let server = try await UpstreamTestServer(host: "::1")
        let upstream = UpstreamHTTP(baseURL: "http://[::1]:\(server.port)", apiKey: nil, client: .shared)
        _ = try await upstream.json("GET", "/ok", timeout: .seconds(5))
        #expect(server.lastRequest.withLock { $0?.host } == "[::1]:\(server.port)")
        try await server.stop()
    }

    @Test func anUnreachableUpstreamIsTheNodesError() async throws {
        let server = try await UpstreamTestServer()
        let port = server.port
        try await server.stop()
        let upstream = UpstreamHTTP(baseURL: "http://127.0.0.1:\(port)/v1", apiKey: nil, client: .shared)
        await #expect(throws: EngineFailure.self) { try await upstream.send("GET", "/models", timeout: .seconds(5)) }
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080/v1", "127.0.0.1 8080 /v1"),
        ("http://localhost", "localhost 80 "),
        ("HTTP://[::1]:11434", "::1 11434 "),
        ("https://api.openai.com/v1", nil),
        ("http://user:pw@host/v1", nil),
        ("http://host:0/v1", nil),
        ("http://host:99999", nil),
        ("http://[::1/v1", nil),
        ("http:///v1", nil),
    ])
    func plainHTTPAddresses(url: String, expected: String?) {
        #expect(PlainHTTPAddress(url).map { "\($0.host) \($0.port) \($0.path)" } == expected)
    }
}
