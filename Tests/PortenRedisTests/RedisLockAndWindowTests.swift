import NIOCore
import PortenRedis
import Testing

/// The lock (SET NX PX, released by compare-and-delete) and the rate window (INCRBY and PEXPIRE in
/// one script), as the Hub's replicas will use them.
@Suite(.timeLimit(.minutes(1)))
struct RedisLockAndWindowTests {
    @Test func aLockHasOneOwnerWhoAloneReleasesItAndExpiryFreesIt() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                #expect(try await redis.acquireLock("lock:planner", token: "replica-a", ttl: .seconds(30)))
                #expect(try await redis.acquireLock("lock:planner", token: "replica-b", ttl: .seconds(30)) == false)

                // Not the owner: nothing happens.
                #expect(try await redis.releaseLock("lock:planner", token: "replica-b") == false)
                #expect(try await redis.get("lock:planner") == ByteBuffer(string: "replica-a"))

                #expect(try await redis.releaseLock("lock:planner", token: "replica-a"))
                #expect(try await redis.get("lock:planner") == nil)
                #expect(try await redis.releaseLock("lock:planner", token: "replica-a") == false)
                #expect(try await redis.acquireLock("lock:planner", token: "replica-b", ttl: .seconds(30)))

                // An owner that stalls past the TTL loses the lock, and cannot release the next owner's.
                #expect(try await redis.acquireLock("lock:sweeper", token: "slow", ttl: .seconds(2)))
                #expect(try await redis.acquireLock("lock:sweeper", token: "fast", ttl: .seconds(30)) == false)
                #expect(await eventually(within: .seconds(10)) { (try? await redis.acquireLock("lock:sweeper", token: "fast", ttl: .seconds(30))) == true })
                #expect(try await redis.releaseLock("lock:sweeper", token: "slow") == false)
                #expect(try await redis.get("lock:sweeper") == ByteBuffer(string: "fast"))
            }
        }
    }

    @Test func concurrentLockAttemptsHaveExactlyOneWinner() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<50 {
                        group.addTask { try await redis.acquireLock("lock:one", token: "owner-\(index)", ttl: .seconds(30)) }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(winners == 1)
            }
        }
    }

    @Test func aRateWindowCountsEveryIncrementOnceAndAlwaysExpires() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server) { $0.commandTimeout = .seconds(10) }) { redis async throws in
                // Two clients, as two Hub replicas, share the window.
                try await withClient(try testConfiguration(server) { $0.commandTimeout = .seconds(10) }) { other async throws in
                    let counts = try await withThrowingTaskGroup(of: Int.self) { group in
                        for index in 0..<100 {
                            let client = index.isMultiple(of: 2) ? redis : other
                            group.addTask { try await client.incrementWindow("rate:key-1", window: .seconds(60)) }
                        }
                        return try await group.reduce(into: [Int]()) { $0.append($1) }
                    }
                    #expect(counts.sorted() == Array(1...100))
                }
                #expect((1...60_000).contains(try await redis.pttl("rate:key-1")))
                #expect(try await redis.incrementWindow("rate:key-1", by: 10, window: .seconds(60)) == 110)

                // A short window resets once it expires; a later increment does not extend it.
                #expect(try await redis.incrementWindow("rate:short", window: .seconds(2)) == 1)
                #expect(try await redis.incrementWindow("rate:short", window: .seconds(60)) == 2)
                #expect((1...2000).contains(try await redis.pttl("rate:short")))
                #expect(try await eventually(within: .seconds(10)) { try await redis.get("rate:short") == nil })
                #expect(try await redis.incrementWindow("rate:short", window: .seconds(60)) == 1)

                // A counter left without an expiry (by something else) gets one.
                try await redis.set("rate:stale", to: 7)
                #expect(try await redis.incrementWindow("rate:stale", window: .seconds(5)) == 8)
                #expect((1...5000).contains(try await redis.pttl("rate:stale")))
            }
        }
    }

    @Test func scriptsAreLoadedAgainAfterTheServerForgetsThem() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                let script = RedisScript("return 'loaded ' .. ARGV[1]")
                #expect(try await redis.run(script, arguments: ["once"]).string == "loaded once")
                #expect(try await redis.send(["SCRIPT", "FLUSH"]) == .simpleString("OK"))
                #expect(try await redis.run(script, arguments: ["again"]).string == "loaded again")
            }
        }
    }
}
