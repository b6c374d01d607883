import Logging
import NIOCore
import NIOPosix

/// One TCP connection to redis-server. Commands may be sent from any task at once: they are
/// pipelined, and each gets the reply that answers it. Replies that are error replies throw
/// ``RedisError/server(_:)``. It does not reconnect: ``RedisClient`` does.
public final class RedisConnection: Sendable {
    let channel: any Channel

    /// Wraps a channel whose pipeline holds the RESP decoder (or a test's replies) and a ``RedisCommandHandler``.
    init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects, authenticates and selects the configured database, then checks the connection
    /// with PING, all within `configuration.connectTimeout`. With `push`, this is a subscriber
    /// connection: published messages go to `push`.
    public static func connect(
        _ configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        push: (@Sendable (RedisMessage) -> Void)? = nil
    ) async throws -> RedisConnection {
        let deadline = NIODeadline.now() + TimeAmount(configuration.connectTimeout)
        let limits = configuration.decoderLimits
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: eventLoopGroup)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(RESPDecoder(limits: limits)), RedisCommandHandler(unresponsiveAfter: TimeAmount(configuration.commandTimeout), push: push))
                    }
                }
                .connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError.unavailable("cannot connect to \(configuration.endpoint): \(error)")
        }
        let connection = RedisConnection(channel: channel)
        do {
            if let password = configuration.password {
                let auth = configuration.username.map { RESPCommand("AUTH", $0, password) } ?? RESPCommand("AUTH", password)
                _ = try await connection.send(auth, deadline: deadline)
            }
            if configuration.database != 0 {
                _ = try await connection.send(RESPCommand("SELECT", configuration.database), deadline: deadline)
            }
            _ = try await connection.send(RESPCommand("PING"), deadline: deadline)
        } catch let error as RedisError {
            connection.close()
            switch error {
            case .server(let message): throw RedisError.unavailable("\(configuration.endpoint) refused the connection: \(message)")
            default: throw RedisError.unavailable("\(configuration.endpoint): \(error)")
            }
        } catch {
            connection.close()
            throw RedisError.unavailable("\(configuration.endpoint): \(error)")
        }
        return connection
    }

    public var isActive: Bool {
        channel.isActive
    }

    /// Sends one command, e.g. `["SET", "key", value]`, and returns its reply.
    public func send(_ arguments: [any RedisArgument], timeout: Duration) async throws -> RESPValue {
        do {
            return try await send(RESPCommand(arguments), deadline: .now() + TimeAmount(timeout))
        } catch is RedisNotSent {
            throw RedisError.connectionClosed("the connection was already closed; the command was not sent")
        }
    }

    /// Sends one command; throws ``RedisNotSent`` when the connection had closed before it was written.
    func send(_ command: RESPCommand, deadline: NIODeadline) async throws -> RESPValue {
        let reply = try await send(bytes: command.bytes, name: command.name, replies: 1, deadline: deadline)[0]
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// Writes `bytes`, holding `replies` commands, in one piece and returns their replies in order,
    /// error replies included as values.
    func send(bytes: ByteBuffer, name: String, replies count: Int, deadline: NIODeadline) async throws -> [RESPValue] {
        var replies: [RESPValue] = []
        replies.reserveCapacity(count)
        for reply in write(bytes: bytes, name: name, replies: count, deadline: deadline) {
            replies.append(try await reply.get())
        }
        return replies
    }

    /// Writes `bytes`, holding `replies` commands, in one piece; the futures complete with the
    /// replies in order, or fail with ``RedisNotSent`` when the connection had already closed.
    @discardableResult
    func write(bytes: ByteBuffer, name: String, replies count: Int, deadline: NIODeadline) -> [EventLoopFuture<RESPValue>] {
        let promises = (0..<count).map { _ in channel.eventLoop.makePromise(of: RESPValue.self) }
        let request = RedisRequest(bytes: bytes, name: name, replies: promises, deadline: deadline)
        channel.writeAndFlush(request).whenFailure { _ in
            // Not written: the connection closed, or the pipeline no longer holds the handler.
            for promise in promises { promise.fail(RedisNotSent()) }
        }
        return promises.map(\.futureResult)
    }

    /// Closes the connection; everything still waiting fails with ``RedisError/connectionClosed(_:)``.
    public func close() {
        channel.close(promise: nil)
    }

    /// Returns once the connection has closed, for whatever reason.
    public func closed() async {
        try? await channel.closeFuture.get()
    }
}
