import NIOCore

extension RedisClient {
    /// Subscribes to `channels` on the client's subscriber connection and returns once the server
    /// has confirmed every one: what is published from then on arrives in the stream. The
    /// subscription lasts until the stream is dropped or its consumer cancelled (the channels are
    /// then unsubscribed unless another subscription wants them) or the client shuts down (the
    /// stream ends). After a reconnect the channels are subscribed again; what was published
    /// while the subscriber connection was down is lost. Past ``RedisConfiguration/subscriptionBufferSize``
    /// unread messages, the oldest are dropped.
    ///
    /// Throws ``RedisError/unavailable(_:)`` when no subscriber connection comes within the command
    /// timeout; nothing stays subscribed then.
    public func subscribe(to channels: [String], timeout: Duration? = nil) async throws -> AsyncStream<RedisMessage> {
        precondition(!channels.isEmpty, "subscribe to at least one channel")
        let (stream, continuation) = AsyncStream.makeStream(
            of: RedisMessage.self, bufferingPolicy: .bufferingNewest(configuration.subscriptionBufferSize))
        guard let id = subscriptions.add(Set(channels), continuation: continuation) else {
            continuation.finish()
            throw RedisError.unavailable("the client is shut down")
        }
        let commandTimeout = configuration.commandTimeout
        continuation.onTermination = { [subscriptions] _ in subscriptions.remove(id, commandTimeout: commandTimeout) }
        do {
            let replies = try await execute(
                on: subscriber, bytes: SubscriptionRegistry.commands("SUBSCRIBE", channels), name: "SUBSCRIBE", replies: channels.count,
                deadline: deadline(timeout))
            for reply in replies where reply.array?.first?.string != "subscribe" {
                if case .error(let message) = reply { throw RedisError.server(message) }
                throw RedisError.unexpectedReply("SUBSCRIBE answered with \(reply.summary)")
            }
        } catch {
            continuation.finish()
            throw error
        }
        return stream
    }
}
