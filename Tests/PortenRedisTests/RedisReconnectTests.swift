import Foundation
import NIOCore
import PortenRedis
import Testing

/// A server that dies, stalls or refuses: commands fail in bounded time with a typed error, and
/// the client comes back, subscriptions included, when the server does.
@Suite(.timeLimit(.minutes(1)))
struct RedisReconnectTests {
    @Test func aKilledServerMakesCommandsUnavailableAndARestartBringsEverythingBack() async throws {
        try await RedisTestServer.with { server async throws in
            let configuration = try testConfiguration(server)
            try await withClient(configuration) { redis async throws in
                try await withClient(configuration) { publisher async throws in
                    let stream = try await redis.subscribe(to: ["wake"])
                    try await redis.set("before", to: "1")
                    #expect(try await publisher.publish("first", to: "wake") == 1)
                    #expect(await next(1, of: stream) == [.init("wake", "first")])

                    server.kill()
                    #expect(await eventually(within: .seconds(5)) { !redis.isConnected && !redis.isSubscriberConnected })

                    // Every command fails with `unavailable` within its timeout (here 1 s): none hangs.
                    let started = ContinuousClock.now
                    let failures = await withTaskGroup(of: RedisError?.self) { group in
                        for index in 0..<20 {
                            group.addTask {
                                do {
                                    _ = try await redis.send(["SET", "during-\(index)", "x"], timeout: .seconds(1))
                                    return nil
                                } catch {
                                    return error as? RedisError
                                }
                            }
                        }
                        return await group.reduce(into: [RedisError?]()) { $0.append($1) }
                    }
                    let elapsed = ContinuousClock.now - started
                    #expect(failures.allSatisfy { if case .unavailable? = $0 { true } else { false } }, "\(failures)")
                    #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(10), "\(elapsed)")
                    let message = failures.first.flatMap { $0.map(String.init(describing:)) } ?? ""
                    #expect(message.contains("127.0.0.1:\(server.port)"), "\(message)")
                    await #expect(throws: RedisError.self) { try await redis.subscribe(to: ["other"], timeout: .seconds(1)) }

                    try await server.start()
                    #expect(await eventually(within: .seconds(10)) { (try? await redis.ping()) == "PONG" })
                    #expect(redis.isConnected)
                    // The data died with the server (nothing is saved); the client works again.
                    #expect(try await redis.get("before") == nil)
                    #expect(try await redis.set("after", to: "2"))
                    #expect(try await redis.get("after") == ByteBuffer(string: "2"))

                    // The subscription resumes on the new server once it has subscribed again.
                    #expect(await eventually(within: .seconds(10)) { (try? await publisher.publish("probe", to: "wake")) == 1 })
                    #expect(redis.isSubscriberConnected)
                    #expect(try await publisher.publish("second", to: "wake") == 1)
                    #expect(await next(2, of: stream) == [.init("wake", "probe"), .init("wake", "second")])
                }
            }
        }
    }

    @Test func aCommandInFlightWhenTheServerDiesFailsAsClosed() async throws {
        try await RedisTestServer.with(arguments: ["--enable-debug-command", "local"]) { server async throws in
            let configuration = try testConfiguration(server) { $0.commandTimeout = .seconds(40) }
            try await withClient(configuration) { redis async throws in
                // The server sleeps, so the command is in flight, once another connection's PING goes unanswered.
                let probe = try await RedisConnection.connect(configuration)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let started = ContinuousClock.now
                        let error = await #expect(throws: RedisError.self) { try await redis.send(["DEBUG", "SLEEP", "20"]) }
                        guard case .connectionClosed? = error else {
                            Issue.record("expected connectionClosed, got \(String(describing: error))")
                            return
                        }
                        #expect(ContinuousClock.now - started < .seconds(15))
                    }
                    #expect(await serverIsAsleep(probe))
                    server.kill()
                    try await group.waitForAll()
                }
            }
        }
    }

    @Test func aLongCommandWithinItsOwnTimeoutOutlivesHealthChecksAndShortTimeouts() async throws {
        try await RedisTestServer.with(arguments: ["--enable-debug-command", "local"]) { server async throws in
            let configuration = try testConfiguration(server) {
                $0.commandTimeout = .milliseconds(500)
                $0.healthCheckInterval = .milliseconds(200)
            }
            var probeConfiguration = configuration
            probeConfiguration.commandTimeout = .seconds(40)
            try await withClient(configuration) { redis async throws in
                // Connected before the server sleeps: the handshake would not get its answer after.
                let probe = try await RedisConnection.connect(probeConfiguration)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { () async throws -> Void in
                        // Queued behind this, health-check PINGs and a short GET time out; the
                        // connection stays, and the command gets its answer.
                        #expect(try await redis.send(["DEBUG", "SLEEP", "6"], timeout: .seconds(30)) == .simpleString("OK"))
                    }
                    #expect(await serverIsAsleep(probe))
                    await #expect(throws: RedisError.self) { try await redis.send(["GET", "x"], timeout: .milliseconds(100)) }
                    try await group.waitForAll()
                }
                #expect(try await redis.send(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test func anUnresponsiveServerTimesCommandsOutAndTheClientReconnects() async throws {
        try await RedisTestServer.with { server async throws in
            let configuration = try testConfiguration(server) {
                $0.commandTimeout = .milliseconds(400)
                $0.healthCheckInterval = nil
            }
            try await withClient(configuration) { redis async throws in
                #expect(try await redis.send(["PING"], timeout: .seconds(5)) == .simpleString("PONG"))
                // SIGSTOP: the connection stays open but nothing answers.
                server.signal(SIGSTOP)
                let started = ContinuousClock.now
                let first = await #expect(throws: RedisError.self) { try await redis.incr("stalled") }
                let elapsed = ContinuousClock.now - started
                guard case .timeout(let message)? = first else {
                    server.signal(SIGCONT)
                    Issue.record("expected a timeout, got \(String(describing: first))")
                    return
                }
                #expect(message.contains("INCR"))
                #expect(elapsed >= .milliseconds(350) && elapsed < .seconds(10), "\(elapsed)")
                // The unresponsive connection was dropped; new commands wait for a connection.
                #expect(await eventually(within: .seconds(10)) { !redis.isConnected })
                server.signal(SIGCONT)
                #expect(await eventually(within: .seconds(10)) { (try? await redis.ping()) == "PONG" })
                #expect(redis.isConnected)
            }
        }
    }

    @Test func noServerAtAllFailsWithinTheTimeout() async throws {
        // The server is started to find a free port, then killed before the client starts.
        try await RedisTestServer.with { server async throws in
            server.kill()
            let configuration = try testConfiguration(server) { $0.commandTimeout = .milliseconds(300) }
            try await withClient(configuration, connected: false) { redis async throws in
                let started = ContinuousClock.now
                let error = await #expect(throws: RedisError.self) { try await redis.ping() }
                #expect(ContinuousClock.now - started < .seconds(10))
                guard case .unavailable(let message)? = error else {
                    Issue.record("expected unavailable, got \(String(describing: error))")
                    return
                }
                #expect(message.contains("cannot connect") || message.contains("not connected yet"), "\(message)")
                #expect(!redis.isConnected)
            }
        }
    }

    @Test func passwordsAndDatabasesComeFromTheURL() async throws {
        try await RedisTestServer.with(password: "s3cret/with@signs") { server async throws in
            let encoded = "s3cret%2Fwith%40signs"
            var right = try RedisConfiguration(url: "redis://:\(encoded)@127.0.0.1:\(server.port)/3")
            right.commandTimeout = .seconds(5)
            try await withClient(right) { redis async throws in
                #expect(try await redis.ping() == "PONG")
                try await redis.set("in-db-3", to: "yes")
                #expect(try await redis.send(["CLIENT", "INFO"]).string?.contains("db=3") == true)
            }
            // Username and password: the default user.
            var user = try RedisConfiguration(url: "redis://default:\(encoded)@127.0.0.1:\(server.port)")
            user.commandTimeout = .seconds(5)
            try await withClient(user) { redis async throws in
                #expect(try await redis.get("in-db-3") == nil)
                #expect(try await redis.send(["SELECT", "3"]) == .simpleString("OK"))
            }

            for (url, reason) in [
                ("redis://:b4dpass@127.0.0.1:\(server.port)", "WRONGPASS"),
                ("redis://127.0.0.1:\(server.port)", "NOAUTH"),
            ] {
                var configuration = try RedisConfiguration(url: url)
                configuration.commandTimeout = .milliseconds(500)
                configuration.reconnectDelay = .milliseconds(50)
                try await withClient(configuration, connected: false) { redis async throws in
                    // Until the first attempt has been refused, the reason is only "not connected yet".
                    var last: RedisError?
                    let refused = await eventually {
                        do {
                            _ = try await redis.ping()
                            return false
                        } catch {
                            last = error as? RedisError
                            if case .unavailable(let message)? = last { return message.contains(reason) }
                            return false
                        }
                    }
                    #expect(refused, "\(String(describing: last))")
                    #expect(!"\(String(describing: last))".contains("s3cret") && !"\(String(describing: last))".contains("b4dpass"))
                    #expect(!redis.isConnected)
                }
            }
        }
    }
}
