import NIOCore
import PortenRedis
import Synchronization
import Testing

/// Every command against a real redis-server: round trips, pipelining, large and binary values,
/// error replies.
@Suite(.timeLimit(.minutes(1)))
struct RedisCommandTests {
    @Test func everyCommandRoundTrips() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                #expect(try await redis.ping() == "PONG")
                #expect(redis.isConnected)

                #expect(try await redis.set("node:a", to: "alive"))
                #expect(try await redis.get("node:a").map { String(buffer: $0) } == "alive")
                #expect(try await redis.get("node:missing") == nil)
                #expect(try await redis.pttl("node:a") == -1)

                // SET … PX: a key with a TTL.
                #expect(try await redis.set("node:b", to: "alive", expiry: .seconds(30)))
                let ttl = try await redis.pttl("node:b")
                #expect(ttl > 20_000 && ttl <= 30_000)
                #expect(try await redis.pexpire("node:a", after: .milliseconds(15_500)))
                #expect((1...15_500).contains(try await redis.pttl("node:a")))
                #expect(try await redis.expire("node:a", seconds: 100))
                #expect((90_000...100_000).contains(try await redis.pttl("node:a")))
                #expect(try await redis.pexpire("node:missing", after: .seconds(1)) == false)
                #expect(try await redis.expire("node:missing", seconds: 1) == false)
                #expect(try await redis.pttl("node:missing") == -2)

                // SET NX.
                #expect(try await redis.set("node:a", to: "other", onlyIfAbsent: true) == false)
                #expect(try await redis.set("node:c", to: "new", onlyIfAbsent: true))

                #expect(try await redis.del(["node:a", "node:b", "node:missing"]) == 2)
                #expect(try await redis.get("node:a") == nil)

                #expect(try await redis.incr("count") == 1)
                #expect(try await redis.incr("count", by: 41) == 42)
                #expect(try await redis.incr("count", by: -2) == 40)

                #expect(try await redis.hset("fleet", fields: ["n1": "{\"gpu\":1}", "n2": "{}"]) == 2)
                #expect(try await redis.hset("fleet", fields: ["n2": "{\"gpu\":2}", "n3": "x"]) == 1)
                let fleet = try await redis.hgetall("fleet").mapValues { String(buffer: $0) }
                #expect(fleet == ["n1": "{\"gpu\":1}", "n2": "{\"gpu\":2}", "n3": "x"])
                #expect(try await redis.hdel("fleet", fields: ["n1", "n9"]) == 1)
                #expect(try await redis.hgetall("fleet").keys.sorted() == ["n2", "n3"])
                #expect(try await redis.hgetall("no-such-hash").isEmpty)

                #expect(try await redis.publish("nobody listens", to: "wake") == 0)

                let sum = try await redis.eval("return tonumber(ARGV[1]) + tonumber(ARGV[2])", arguments: [40, 2])
                #expect(sum == .integer(42))
                let script = "return redis.call('GET', KEYS[1])"
                let sha1 = try await redis.scriptLoad(script)
                #expect(sha1.count == 40)
                #expect(try await redis.evalsha(sha1, keys: ["node:c"]) == .bulkString(ByteBuffer(string: "new")))
                await #expect(throws: RedisError.server("NOSCRIPT No matching script. Please use EVAL.")) {
                    try await redis.evalsha(String(repeating: "0", count: 40))
                }

                #expect(try await redis.send(["ECHO", "raw"]) == .bulkString(ByteBuffer(string: "raw")))
                #expect(try await redis.send(["SET", "mixed", ByteBuffer(bytes: [1, 2, 3])]) == .simpleString("OK"))
                #expect(try await redis.send(["STRLEN", "mixed"]) == .integer(3))
            }
        }
    }

    @Test func transactionsRunAsOneAndRefuseBadCommands() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                let results = try await redis.transaction([["INCRBY", "window", 5], ["PEXPIRE", "window", 60_000], ["SET", "text", "x"], ["INCR", "text"]])
                #expect(results.count == 4)
                #expect(results[0] == .integer(5) && results[1] == .integer(1) && results[2] == .simpleString("OK"))
                // A command that fails as it runs is an error among the results; the others ran.
                #expect(results[3].string == nil && "\(results[3])".contains("not an integer"))
                #expect((1...60_000).contains(try await redis.pttl("window")))

                // A command the server cannot queue aborts the whole transaction.
                let error = await #expect(throws: RedisError.self) {
                    try await redis.transaction([["INCR", "window"], ["NOSUCHCOMMAND"]])
                }
                #expect("\(error.map(String.init(describing:)) ?? "")".contains("unknown command"))
                #expect(try await redis.get("window").map { String(buffer: $0) } == "5")
            }
        }
    }

    @Test func concurrentCommandsGetTheirOwnReplies() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server) { $0.commandTimeout = .seconds(10) }) { redis async throws in
                let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<2000 {
                        group.addTask {
                            let reply = try await redis.send(["ECHO", "reply-\(index)"])
                            return reply.string == "reply-\(index)" ? 0 : 1
                        }
                    }
                    return try await group.reduce(0, +)
                }
                #expect(mismatches == 0)

                let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<500 { group.addTask { try await redis.incr("pipelined") } }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(counts.sorted() == Array(1...500))
            }
        }
    }

    @Test func largeAndBinaryValuesRoundTrip() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server) { $0.commandTimeout = .seconds(10) }) { redis async throws in
                var generator = SystemRandomNumberGenerator()
                let large = ByteBuffer(bytes: (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) })
                #expect(try await redis.set("large", to: large))
                #expect(try await redis.get("large") == large)

                let binary = ByteBuffer(bytes: Array(0...255) + Array("\r\n$-1\r\n*3\r\n".utf8) + [0, 0])
                #expect(try await redis.set("binary", to: binary))
                #expect(try await redis.get("binary") == binary)
                #expect(try await redis.set("empty", to: ByteBuffer()))
                #expect(try await redis.get("empty") == ByteBuffer())
                #expect(try await redis.set("bytes", to: [UInt8]([0xFF, 0x00, 0x0D, 0x0A])))
                #expect(try await redis.get("bytes") == ByteBuffer(bytes: [0xFF, 0x00, 0x0D, 0x0A]))

                #expect(try await redis.hset("h", fields: ["blob": binary, "big": large]) == 2)
                let hash = try await redis.hgetall("h")
                #expect(hash["blob"] == binary && hash["big"] == large)

                // Large values interleaved with small commands keep their order.
                let ok = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<20 {
                        group.addTask {
                            if index.isMultiple(of: 2) { return try await redis.get("large") == large }
                            return try await redis.send(["ECHO", "\(index)"]).string == "\(index)"
                        }
                    }
                    return try await group.allSatisfy { $0 }
                }
                #expect(ok)
            }
        }
    }

    @Test func aReplyOverTheLimitFailsTheCommandAndTheClientRecovers() async throws {
        try await RedisTestServer.with { server async throws in
            let configuration = try testConfiguration(server) { $0.decoderLimits.maxBulkLength = 1000 }
            try await withClient(configuration) { redis async throws in
                #expect(try await redis.set("big", to: String(repeating: "x", count: 5000)))
                let error = await #expect(throws: RedisError.self) { try await redis.get("big") }
                guard case .protocolError(let message)? = error else {
                    Issue.record("expected a protocol error, got \(String(describing: error))")
                    return
                }
                #expect(message.contains("5000 bytes exceeds the limit of 1000"))
                // The connection was closed; the client reconnects and goes on.
                #expect(try await redis.set("small", to: "ok"))
                #expect(try await redis.get("small") == ByteBuffer(string: "ok"))
            }
        }
    }

    @Test func errorRepliesAreTypedAndLeaveTheConnectionUsable() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                try await redis.set("text", to: "not a number")
                let notInteger = await #expect(throws: RedisError.self) { try await redis.incr("text") }
                #expect(notInteger == .server("ERR value is not an integer or out of range"))

                try await redis.hset("hash", fields: ["f": "v"])
                let wrongType = await #expect(throws: RedisError.self) { try await redis.get("hash") }
                #expect(wrongType.map { "\($0)".contains("WRONGTYPE") } == true)

                let unknown = await #expect(throws: RedisError.self) { try await redis.send(["NOSUCHCOMMAND", "x"]) }
                guard case .server(let message)? = unknown else {
                    Issue.record("expected a server error, got \(String(describing: unknown))")
                    return
                }
                #expect(message.hasPrefix("ERR unknown command"))
                #expect(try await redis.ping() == "PONG")
            }
        }
    }
}
