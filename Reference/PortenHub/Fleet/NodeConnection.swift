import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import NodeProtocol
import OpenAIWire
import Synchronization

/// A node's live tunnel on the Hub side: sends `infer`/`cancel` frames and routes the node's
/// frames to the request they belong to.
public final class NodeConnection: Sendable {
    public typealias EventStream = AsyncThrowingStream<NodeEvent, any Error>

    public let node: NodeRecord
    public let hello: TunnelMessage.Hello
    /// The WebSocket library's writer: for frames sent while the socket is full, and the close handshake.
    private let outbound: WebSocketOutboundWriter
    /// The tunnel's channel, which frames are written to directly (see ``send(_:)``).
    private let channel: any Channel
    private let state = Mutex(State())

    private struct State {
        var pending: [String: Pending] = [:]
        var closed = false
    }

    /// A request waiting on the node, when the node last said something about it, and how many
    /// bytes of answer it has sent so far.
    private struct Pending {
        var continuation: EventStream.Continuation
        var lastActivity: ContinuousClock.Instant
        var answerBytes = 0
    }

    /// The most answer one request may carry (text, reasoning, tool calls, vectors, plus
    /// ``frameOverhead`` per frame); a node that sends more has the request failed and cancelled,
    /// so the Hub never buffers without bound, not even for a flood of empty deltas.
    let maximumAnswerBytes: Int
    /// What each frame counts on top of its text: about what a buffered event costs.
    static let frameOverhead = 64

    init(
        node: NodeRecord, hello: TunnelMessage.Hello, outbound: WebSocketOutboundWriter, channel: any Channel, maximumAnswerBytes: Int = 16 << 20
    ) {
        self.node = node
        self.hello = hello
        self.outbound = outbound
        self.channel = channel
        self.maximumAnswerBytes = maximumAnswerBytes
    }

    /// Sends `infer` and returns the stream of the node's answer.
    func start(_ infer: TunnelMessage.Infer, now: ContinuousClock.Instant = .now) async throws(APIError) -> EventStream {
        let (stream, continuation) = EventStream.makeStream()
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.pending[infer.id] = Pending(continuation: continuation, lastActivity: now)
            return true
        }
        guard registered else { throw .nodeError("The node disconnected before the request could be sent.") }
        do {
            try await send(.infer(infer))
        } catch {
            finish(infer.id, throwing: .nodeError("The request could not be sent to the node: \(error)."))
            throw .nodeError("The request could not be sent to the node.")
        }
        return stream
    }

    /// Routes one frame from the node to its request; frames of unknown ids (already cancelled) are dropped.
    func deliver(_ message: TunnelMessage) async {
        switch message {
        case .delta(let delta):
            await yield(delta.id, .delta(delta), bytes: delta.answerBytes)
        case .embeddings(let embeddings):
            await yield(embeddings.id, .embeddings(embeddings.vectors), bytes: embeddings.vectors.reduce(0) { $0 + 4 * $1.count })
        case .end(let end):
            let continuation = state.withLock { $0.pending.removeValue(forKey: end.id)?.continuation }
            continuation?.yield(.end(finishReason: end.finishReason, usage: end.usage))
            continuation?.finish()
        case .fail(let fail):
            finish(fail.id, throwing: fail.error)
        default:
            break
        }
    }

    /// Fails request `id` with `error` and stops it on the node (the node sent something invalid for it).
    func fail(_ id: String, with error: APIError) async {
        guard finish(id, throwing: error) else { return }
        await sendCancel(id)
    }

    /// Stops request `id` on the node if it is still running.
    func cancel(_ id: String) async {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id)?.continuation }
        guard let continuation else { return }
        continuation.finish(throwing: CancellationError())
        await sendCancel(id)
    }

    /// Marks the tunnel gone and fails every request still waiting on it.
    func markClosed() {
        let continuations = state.withLock { state in
            state.closed = true
            defer { state.pending.removeAll() }
            return state.pending.values.map(\.continuation)
        }
        for continuation in continuations {
            continuation.finish(throwing: APIError.nodeError("The node serving this request disconnected."))
        }
    }

    /// Closes the WebSocket (node revoked, or replaced by a newer connection of the same node).
    func disconnect(reason: String) async {
        try? await outbound.close(.goingAway, reason: reason)
    }

    /// Writes one frame. While the socket can take more, it goes to the channel directly and is
    /// not awaited: the WebSocket library's writer costs an actor hop and an async writer per
    /// frame, and adds nothing a server's text frame needs (no extensions are configured, servers
    /// do not mask). When the socket is full (a node that reads slowly), the frame goes through
    /// that writer, which suspends the sender until the node reads (and ends the wait if the
    /// request is cancelled), so the Hub's buffers do not grow. Frames of one task stay in order;
    /// frames of different tasks never had an order.
    ///
    /// A node that reads nothing for ``stallLimit`` while a frame waits is stuck (its pings
    /// would wait in the same queue): the tunnel is closed, which fails its requests over.
    func send(_ message: TunnelMessage) async throws {
        guard !state.withLock({ $0.closed }) else { throw ChannelError.ioOnClosedChannel }
        let text = try message.encodedText()
        guard channel.isWritable else { return try await sendWhenDrained(text) }
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text)), promise: nil)
    }

    /// How long a frame may wait for a node that stopped reading before the tunnel is closed.
    static let stallLimit: Duration = .seconds(10)

    private struct StalledTunnel: Error {}

    private func sendWhenDrained(_ text: String) async throws {
        let outbound = self.outbound
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await outbound.write(.text(text)) }
                group.addTask {
                    try await Task.sleep(for: Self.stallLimit)
                    throw StalledTunnel()
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch is StalledTunnel {
            try? await channel.close()
            throw APIError.nodeError("The node stopped reading its tunnel; it was disconnected.")
        }
    }

    /// Fails every request the node has been silent about since `deadline`, and cancels it on the node.
    func expireRequests(silentSince deadline: ContinuousClock.Instant, timeout: Duration) async {
        let expired = state.withLock { state in
            let ids = state.pending.filter { $0.value.lastActivity < deadline }.map(\.key)
            return ids.compactMap { id in state.pending.removeValue(forKey: id).map { (id, $0.continuation) } }
        }
        for (id, continuation) in expired {
            continuation.finish(throwing: APIError.gatewayTimeout("The node sent nothing for this request in \(timeout); it was stopped."))
            await sendCancel(id)
        }
    }

    /// Best effort: a node that is gone has nothing left to stop.
    private func sendCancel(_ id: String) async {
        try? await send(.cancel(.init(id: id)))
    }

    private func yield(_ id: String, _ event: NodeEvent, bytes: Int, now: ContinuousClock.Instant = .now) async {
        let limit = maximumAnswerBytes
        let (continuation, overLimit) = state.withLock { state -> (EventStream.Continuation?, Bool) in
            guard var pending = state.pending[id] else { return (nil, false) }
            pending.lastActivity = now
            pending.answerBytes += bytes + Self.frameOverhead
            guard pending.answerBytes <= limit else {
                state.pending[id] = nil
                return (pending.continuation, true)
            }
            state.pending[id] = pending
            return (pending.continuation, false)
        }
        guard overLimit else {
            continuation?.yield(event)
            return
        }
        continuation?.finish(throwing: APIError.nodeError("The node's answer exceeded the Hub's limit of \(limit) bytes per request; it was stopped."))
        await sendCancel(id)
    }

    /// Ends request `id` with `error`; false when it had already ended.
    @discardableResult
    private func finish(_ id: String, throwing error: APIError) -> Bool {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id)?.continuation }
        continuation?.finish(throwing: error)
        return continuation != nil
    }
}

extension TunnelMessage.Delta {
    /// The bytes of answer this piece carries.
    var answerBytes: Int {
        (content?.utf8.count ?? 0) + (reasoningContent?.utf8.count ?? 0) + (toolCall.map { call in
            (call.id?.utf8.count ?? 0) + (call.name?.utf8.count ?? 0) + (call.arguments?.utf8.count ?? 0)
        } ?? 0)
    }
}
