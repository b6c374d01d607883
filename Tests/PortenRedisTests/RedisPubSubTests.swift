import NIOCore
import PortenRedis
import Testing

/// PUBLISH and SUBSCRIBE across clients, as the Hub's replicas will wake each other.
@Suite(.timeLimit(.minutes(1)))
struct RedisPubSubTests {
    @Test func subscribersReceiveTheirChannelsInOrder() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { listener async throws in
                try await withClient(try testConfiguration(server)) { publisher async throws in
                    let stream = try await listener.subscribe(to: ["wake:a", "wake:b"])
                    #expect(listener.isSubscriberConnected)
                    #expect(try await publisher.publish("1", to: "wake:a") == 1)
                    #expect(try await publisher.publish("2", to: "wake:c") == 0)
                    #expect(try await publisher.publish("3", to: "wake:b") == 1)
                    let binary = ByteBuffer(bytes: [0, 13, 10, 255])
                    #expect(try await publisher.publish(binary, to: "wake:a") == 1)
                    // The subscriber's own client can still run commands, publishing included.
                    #expect(try await listener.publish("4", to: "wake:b") == 1)
                    let messages = await next(4, of: stream)
                    #expect(messages == [.init("wake:a", "1"), .init("wake:b", "3"), .init(channel: "wake:a", payload: binary), .init("wake:b", "4")])
                }
            }
        }
    }

    @Test func eachSubscriptionGetsItsOwnCopyAndEndingOneUnsubscribesOnlyWhatNobodyWants() async throws {
        try await RedisTestServer.with { server async throws in
            try await withClient(try testConfiguration(server)) { redis async throws in
                let first = try await redis.subscribe(to: ["shared", "only-first"])
                let second = try await redis.subscribe(to: ["shared"])
                // One subscriber connection, so the server counts one receiver.
                #expect(try await redis.publish("x", to: "shared") == 1)
                #expect(await next(1, of: first) == [.init("shared", "x")])
                #expect(await next(1, of: second) == [.init("shared", "x")])

                // A consumer that stops listening ends its subscription (here: its task is cancelled).
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { for await _ in first {} }
                    group.cancelAll()
                }
                #expect(await eventually { (try? await redis.publish("y", to: "only-first")) == 0 })
                #expect(try await redis.publish("z", to: "shared") == 1)
                #expect(await next(1, of: second) == [.init("shared", "z")])
            }
        }
    }

    @Test func shuttingDownEndsTheStreams() async throws {
        try await RedisTestServer.with { server async throws in
            let redis = RedisClient(configuration: try testConfiguration(server), logger: quietLogger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await redis.run() }
                try #require(await eventually(within: .seconds(20)) { redis.isSubscriberConnected })
                let stream = try await redis.subscribe(to: ["ending"])
                redis.shutdown()
                // The stream finishes rather than waiting for messages that will never come.
                let ended = await withTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        for await _ in stream {}
                        return true
                    }
                    group.addTask {
                        try? await Task.sleep(for: .seconds(20))
                        return false
                    }
                    let first = await group.next() ?? false
                    group.cancelAll()
                    return first
                }
                #expect(ended)
                let error = await #expect(throws: RedisError.self) { try await redis.ping() }
                #expect(error == .unavailable("the client is shut down"))
                await #expect(throws: RedisError.self) { try await redis.subscribe(to: ["later"]) }
            }
        }
    }
}
