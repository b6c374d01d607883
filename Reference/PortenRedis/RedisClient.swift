import Logging
import NIOCore
import NIOPosix

/// A Redis client that stays connected: ``run()`` keeps one connection for commands and one for
/// subscriptions, reconnecting with capped exponential backoff whenever either drops, until
/// ``shutdown()`` or until the task running it is cancelled.
///
/// Every command has a deadline (``RedisConfiguration/commandTimeout`` unless given one): a command
/// issued while disconnected waits for the next connection until then and fails with
/// ``RedisError/unavailable(_:)``; one sent but not answered by then fails with
/// ``RedisError/timeout(_:)``. Commands are never sent twice: one whose connection closes before
/// its reply fails with ``RedisError/connectionClosed(_:)``.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    let eventLoopGroup: any EventLoopGroup
    let logger: Logger
    let commands: ConnectionSlot
    let subscriber: ConnectionSlot
    let subscriptions = SubscriptionRegistry()
    private let stop: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)

    public init(configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        var logger = logger
        logger[metadataKey: "redis.endpoint"] = "\(configuration.endpoint)"
        self.logger = logger
        commands = ConnectionSlot(endpoint: configuration.endpoint)
        subscriber = ConnectionSlot(endpoint: configuration.endpoint)
        stop = AsyncStream.makeStream(of: Void.self)
    }

    /// Whether the command connection is up: false from a drop until the reconnect, which is what
    /// a health check or metric should show as "Redis unavailable".
    public var isConnected: Bool {
        commands.current != nil
    }

    /// Whether the subscriber connection is up; messages published while it is down are lost.
    public var isSubscriberConnected: Bool {
        subscriber.current != nil
    }

    /// Keeps the connections up until ``shutdown()`` or cancellation. Commands wait for it to
    /// connect; after it returns they fail with ``RedisError/unavailable(_:)`` and every
    /// subscription's stream ends.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.keepConnected(self.commands, role: "commands") }
            group.addTask { await self.keepConnected(self.subscriber, role: "subscriber") }
            group.addTask { for await _ in self.stop.stream {} }
            await group.next()
            group.cancelAll()
        }
        close()
    }

    /// Ends ``run()``; commands waiting for a connection fail at once.
    public func shutdown() {
        stop.continuation.finish()
        close()
    }

    private func close() {
        commands.close()
        subscriber.close()
        subscriptions.finishAll()
    }

    /// Sends one command, e.g. `["HSET", key, field, value]`, and returns its reply; an error reply
    /// throws ``RedisError/server(_:)``.
    public func send(_ arguments: [any RedisArgument], timeout: Duration? = nil) async throws -> RESPValue {
        try await execute(RESPCommand(arguments), deadline: deadline(timeout))
    }

    func deadline(_ timeout: Duration? = nil) -> NIODeadline {
        .now() + TimeAmount(timeout ?? configuration.commandTimeout)
    }

    func execute(_ command: RESPCommand, deadline: NIODeadline) async throws -> RESPValue {
        let reply = try await execute(bytes: command.bytes, name: command.name, replies: 1, deadline: deadline)[0]
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// Sends commands written as one piece on the command connection, waiting for one if needed.
    func execute(bytes: ByteBuffer, name: String, replies: Int, deadline: NIODeadline) async throws -> [RESPValue] {
        try await execute(on: commands, bytes: bytes, name: name, replies: replies, deadline: deadline)
    }

    func execute(on slot: ConnectionSlot, bytes: ByteBuffer, name: String, replies: Int, deadline: NIODeadline) async throws -> [RESPValue] {
        while true {
            let connection = try await slot.connection(before: deadline, on: eventLoopGroup.any())
            do {
                return try await connection.send(bytes: bytes, name: name, replies: replies, deadline: deadline)
            } catch is RedisNotSent {
                // The connection closed before the command was written: wait for the next one.
                slot.disconnected(connection, reason: "the connection closed")
            }
        }
    }

    /// Connects, waits for the connection to close, and connects again, until cancelled.
    private func keepConnected(_ slot: ConnectionSlot, role: String) async {
        var logger = logger
        logger[metadataKey: "redis.connection"] = "\(role)"
        let isSubscriber = slot === subscriber
        let subscriptions = subscriptions
        let push: (@Sendable (RedisMessage) -> Void)? = isSubscriber ? { @Sendable message in subscriptions.deliver(message) } : nil
        var failures = 0
        while !Task.isCancelled {
            do {
                let connection = try await RedisConnection.connect(configuration, eventLoopGroup: eventLoopGroup, push: push)
                if Task.isCancelled {
                    connection.close()
                    break
                }
                if isSubscriber { subscriptions.attach(connection, commandTimeout: configuration.commandTimeout) }
                slot.connected(connection)
                logger.info("Redis connected")
                failures = 0
                let reason = await watch(connection)
                slot.disconnected(connection, reason: reason)
                if isSubscriber { subscriptions.detach(connection) }
                if Task.isCancelled { break }
                logger.warning("Redis connection lost", metadata: ["reason": "\(reason)"])
            } catch {
                if case RedisError.unavailable(let reason) = error { slot.failedToConnect(reason) } else { slot.failedToConnect("\(error)") }
                failures += 1
                logger.log(level: failures == 1 ? .warning : .debug, "Redis connection failed", metadata: ["error": "\(error)", "attempt": "\(failures)"])
            }
            do { try await Task.sleep(for: backoff(after: failures)) } catch { break }
        }
    }

    /// The wait before the next attempt: none right after a connection drops, then doubling.
    private func backoff(after failures: Int) -> Duration {
        guard failures > 0 else { return .zero }
        var delay = configuration.reconnectDelay
        for _ in 1..<min(failures, 30) where delay < configuration.maxReconnectDelay { delay *= 2 }
        return min(delay, configuration.maxReconnectDelay) * Double.random(in: 0.8...1)
    }

    /// Returns why `connection` ended: it closed, or a health check PING went unanswered. Closes it
    /// when the task is cancelled.
    private func watch(_ connection: RedisConnection) async -> String {
        let interval = configuration.healthCheckInterval
        let timeout = configuration.commandTimeout
        return await withTaskCancellationHandler {
            await withTaskGroup(of: String?.self) { group in
                group.addTask {
                    await connection.closed()
                    return "the connection closed"
                }
                if let interval {
                    group.addTask {
                        while true {
                            do { try await Task.sleep(for: interval) } catch { return nil }
                            do {
                                _ = try await connection.send(RESPCommand("PING"), deadline: .now() + TimeAmount(timeout))
                            } catch {
                                // Unanswered at the head of the line, the PING closes the
                                // connection itself (RedisCommandHandler); queued behind a long
                                // command that is still within its own timeout, it must not.
                                if !connection.isActive { return "health check failed: \(error)" }
                            }
                        }
                    }
                }
                let reason = await group.next() ?? nil
                group.cancelAll()
                return reason ?? "the connection closed"
            }
        } onCancel: {
            connection.close()
        }
    }
}
