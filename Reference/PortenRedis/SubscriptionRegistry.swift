import NIOCore
import Synchronization

/// A message published on a channel this client subscribed to.
public struct RedisMessage: Sendable, Hashable {
    public var channel: String
    public var payload: ByteBuffer

    public init(channel: String, payload: ByteBuffer) {
        self.channel = channel
        self.payload = payload
    }

    /// A `["message", channel, payload]` push on a subscriber connection.
    init?(pushed value: RESPValue) {
        guard case .array(let parts) = value, parts.count == 3, parts[0].string == "message",
            let channel = parts[1].string, case .bulkString(let payload) = parts[2]
        else { return nil }
        self.init(channel: channel, payload: payload)
    }
}

/// Who listens to which channels, and the subscriber connection that carries them. Every write of
/// SUBSCRIBE or UNSUBSCRIBE happens under the lock, so they reach the server in the order the
/// registry changed and a channel is never left unsubscribed while someone listens.
final class SubscriptionRegistry: Sendable {
    private struct Listener {
        let channels: Set<String>
        let continuation: AsyncStream<RedisMessage>.Continuation
    }

    private struct State {
        var listeners: [Int: Listener] = [:]
        var listenerCounts: [String: Int] = [:]
        var nextID = 0
        var connection: RedisConnection?
        var isFinished = false
    }

    private let state = Mutex(State())

    /// Adds a listener; nil once the client is shut down.
    func add(_ channels: Set<String>, continuation: AsyncStream<RedisMessage>.Continuation) -> Int? {
        state.withLock { state in
            guard !state.isFinished else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.listeners[id] = Listener(channels: channels, continuation: continuation)
            for channel in channels { state.listenerCounts[channel, default: 0] += 1 }
            return id
        }
    }

    /// Removes a listener, unsubscribing the channels nobody else listens to.
    func remove(_ id: Int, commandTimeout: Duration) {
        state.withLock { state in
            guard let listener = state.listeners.removeValue(forKey: id) else { return }
            var unwanted: [String] = []
            for channel in listener.channels {
                state.listenerCounts[channel, default: 0] -= 1
                if state.listenerCounts[channel] == 0 {
                    state.listenerCounts[channel] = nil
                    unwanted.append(channel)
                }
            }
            if let connection = state.connection, !unwanted.isEmpty {
                Self.write("UNSUBSCRIBE", unwanted, on: connection, timeout: commandTimeout)
            }
        }
    }

    /// Makes `connection` the subscriber connection and subscribes it to every channel listened to.
    /// No reply is awaited: one that does not come in time closes the connection, and the client
    /// reconnects and tries again.
    func attach(_ connection: RedisConnection, commandTimeout: Duration) {
        state.withLock { state in
            state.connection = connection
            if !state.listenerCounts.isEmpty {
                Self.write("SUBSCRIBE", Array(state.listenerCounts.keys), on: connection, timeout: commandTimeout)
            }
        }
    }

    func detach(_ connection: RedisConnection) {
        state.withLock { state in
            if state.connection === connection { state.connection = nil }
        }
    }

    /// Hands a published message to every listener of its channel.
    func deliver(_ message: RedisMessage) {
        let continuations = state.withLock { state in
            state.listeners.values.filter { $0.channels.contains(message.channel) }.map(\.continuation)
        }
        for continuation in continuations { continuation.yield(message) }
    }

    /// Ends every subscription's stream; later ``add(_:continuation:)`` calls fail.
    func finishAll() {
        let continuations = state.withLock { state in
            state.isFinished = true
            state.connection = nil
            defer {
                state.listeners = [:]
                state.listenerCounts = [:]
            }
            return state.listeners.values.map(\.continuation)
        }
        // Outside the lock: finishing runs each stream's termination handler, which calls remove.
        for continuation in continuations { continuation.finish() }
    }

    /// `verb` for each channel, one command per channel so that each has exactly one reply.
    static func commands(_ verb: String, _ channels: some Sequence<String>) -> ByteBuffer {
        var bytes = ByteBuffer()
        for channel in channels {
            var command = RESPCommand(verb, channel).bytes
            bytes.writeBuffer(&command)
        }
        return bytes
    }

    private static func write(_ verb: String, _ channels: [String], on connection: RedisConnection, timeout: Duration) {
        connection.write(
            bytes: commands(verb, channels), name: verb, replies: channels.count, deadline: .now() + TimeAmount(timeout))
    }
}
