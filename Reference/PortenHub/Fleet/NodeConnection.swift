import Logging
import NIOCore
import NodeProtocol
import OpenAIWire
import Synchronization

/// A node's live tunnel on the Hub side: sends `infer`/`cancel` frames and routes the node's
/// frames to the request they belong to.
public final class NodeConnection: Sendable {
    public let node: NodeRecord
    public let hello: TunnelMessage.Hello
    private let socket: TunnelSocket
    private let state = Mutex(State())

    private struct State {
        var pending: [String: Pending] = [:]
        var closed = false
    }

    /// A request waiting on the node, when the node last said something about it, and how many
    /// bytes of answer it has sent so far.
    private struct Pending {
        var events: EventChannel
        var lastActivity: ContinuousClock.Instant
        var answerBytes = 0
    }

    /// The most answer one request may carry (text, reasoning, tool calls, vectors, plus
    /// ``frameOverhead`` per frame); a node that sends more has the request failed and cancelled,
    /// so the Hub never buffers without bound, not even for a flood of empty deltas.
    let maximumAnswerBytes: Int
    /// What each frame counts on top of its text: about what a buffered event costs.
    static let frameOverhead = 64
    /// What each embedding vector counts on top of its 4 bytes a component: an array of its own.
    static let vectorOverhead = 48

    init(node: NodeRecord, hello: TunnelMessage.Hello, socket: TunnelSocket, maximumAnswerBytes: Int = 16 << 20) {
        self.node = node
        self.hello = hello
        self.socket = socket
        self.maximumAnswerBytes = maximumAnswerBytes
    }

    /// Sends `infer` and returns the channel of the node's answer.
    func start(_ infer: TunnelMessage.Infer, now: ContinuousClock.Instant = .now) async throws(APIError) -> EventChannel {
        let events = EventChannel()
        let registered = state.withLock { state in
            guard !state.closed else { return false }
            state.pending[infer.id] = Pending(events: events, lastActivity: now)
            return true
        }
        guard registered else { throw .nodeError("The node disconnected before the request could be sent.") }
        do {
            try await send(.infer(infer))
        } catch {
            finish(infer.id, throwing: .nodeError("The request could not be sent to the node: \(error)."))
            throw .nodeError("The request could not be sent to the node.")
        }
        return events
    }

    /// Routes one frame from the node to its request; frames of unknown ids (already cancelled) are dropped.
    func deliver(_ message: TunnelMessage) {
        switch message {
        case .delta(let delta):
            yield(delta.id, .delta(delta), bytes: delta.answerBytes)
        case .embeddings(let embeddings):
            yield(embeddings.id, .embeddings(embeddings.vectors), bytes: embeddings.vectors.reduce(0) { $0 + 4 * $1.count + Self.vectorOverhead })
        case .end(let end):
            // The answer's last text, when the end carries it, goes first, as a delta would.
            if let last = end.delta { yield(end.id, .delta(last), bytes: last.answerBytes) }
            let events = state.withLock { $0.pending.removeValue(forKey: end.id)?.events }
            events?.yield(.end(finishReason: end.finishReason, usage: end.usage))
            events?.finish()
        case .fail(let fail):
            finish(fail.id, throwing: fail.error)
        default:
            break
        }
    }

    /// Fails request `id` with `error` and stops it on the node (the node sent something invalid for it).
    func fail(_ id: String, with error: APIError) {
        guard finish(id, throwing: error) else { return }
        sendCancel(id)
    }

    /// Stops request `id` on the node if it is still running.
    func cancel(_ id: String) {
        let events = state.withLock { $0.pending.removeValue(forKey: id)?.events }
        guard let events else { return }
        events.finish(throwing: .nodeError("The request was cancelled."))
        sendCancel(id)
    }

    /// Marks the tunnel gone and fails every request still waiting on it.
    func markClosed() {
        let channels = state.withLock { state in
            state.closed = true
            defer { state.pending.removeAll() }
            return state.pending.values.map(\.events)
        }
        for events in channels {
            events.finish(throwing: .nodeError("The node serving this request disconnected."))
        }
    }

    /// Closes the WebSocket: the node connected again, and this connection was replaced.
    func disconnect(reason: String) async {
        await socket.close(.goingAway, reason: reason)
    }

    /// Sends one frame (see ``TunnelSocket/write(_:)``); a node that stopped reading is
    /// disconnected, which fails its requests over.
    func send(_ message: TunnelMessage) async throws {
        guard !state.withLock({ $0.closed }) else { throw ChannelError.ioOnClosedChannel }
        try await socket.write(try message.encodedText())
    }

    /// Fails every request the node has been silent about since `deadline`, and cancels it on the node.
    func expireRequests(silentSince deadline: ContinuousClock.Instant, timeout: Duration) {
        let expired = state.withLock { state in
            let ids = state.pending.filter { $0.value.lastActivity < deadline }.map(\.key)
            return ids.compactMap { id in state.pending.removeValue(forKey: id).map { (id, $0.events) } }
        }
        for (id, events) in expired {
            events.finish(throwing: .gatewayTimeout("The node sent nothing for this request in \(timeout); it was stopped."))
            sendCancel(id)
        }
    }

    /// Best effort: a node that is gone has nothing left to stop. Never waits, so neither a full
    /// socket nor a cancelled task loses it.
    private func sendCancel(_ id: String) {
        guard let text = try? TunnelMessage.cancel(.init(id: id)).encodedText() else { return }
        socket.writeNow(text)
    }

    private func yield(_ id: String, _ event: NodeEvent, bytes: Int, now: ContinuousClock.Instant = .now) {
        let limit = maximumAnswerBytes
        let (events, overLimit) = state.withLock { state -> (EventChannel?, Bool) in
            guard var pending = state.pending[id] else { return (nil, false) }
            pending.lastActivity = now
            pending.answerBytes += bytes + Self.frameOverhead
            guard pending.answerBytes <= limit else {
                state.pending[id] = nil
                return (pending.events, true)
            }
            state.pending[id] = pending
            return (pending.events, false)
        }
        guard overLimit else {
            events?.yield(event)
            return
        }
        events?.finish(throwing: .nodeError("The node's answer exceeded the Hub's limit of \(limit) bytes per request; it was stopped."))
        sendCancel(id)
    }

    /// Ends request `id` with `error`; false when it had already ended.
    @discardableResult
    private func finish(_ id: String, throwing error: APIError) -> Bool {
        let events = state.withLock { $0.pending.removeValue(forKey: id)?.events }
        events?.finish(throwing: error)
        return events != nil
    }
}

extension TunnelMessage.Delta {
    /// The engine's pieces this delta carries as the Hub counts them: at least one, and at most
    /// one per byte of answer (a node cannot lift the bounds of its bill with the count alone).
    var countedPieces: Int {
        guard let pieces, pieces > 1 else { return 1 }
        return min(pieces, max(1, answerBytes))
    }

    /// The bytes of answer this piece carries.
    var answerBytes: Int {
        (content?.utf8.count ?? 0) + (reasoningContent?.utf8.count ?? 0) + (toolCall.map { call in
            (call.id?.utf8.count ?? 0) + (call.name?.utf8.count ?? 0) + (call.arguments?.utf8.count ?? 0)
        } ?? 0)
    }
}
