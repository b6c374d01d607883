import HummingbirdWebSocket
import Logging
import NodeProtocol
import OpenAIWire
import Synchronization

/// A node's live tunnel on the Hub side: sends `infer`/`cancel` frames and routes the node's
/// frames to the request they belong to.
public final class NodeConnection: Sendable {
    public typealias EventStream = AsyncThrowingStream<NodeEvent, any Error>

    public let node: NodeRecord
    public let hello: TunnelMessage.Hello
    private let outbound: WebSocketOutboundWriter
    private let state = Mutex(State())

    private struct State {
        var pending: [String: Pending] = [:]
        var closed = false
    }

    /// A request waiting on the node, and when the node last said something about it.
    private struct Pending {
        var continuation: EventStream.Continuation
        var lastActivity: ContinuousClock.Instant
    }

    init(node: NodeRecord, hello: TunnelMessage.Hello, outbound: WebSocketOutboundWriter) {
        self.node = node
        self.hello = hello
        self.outbound = outbound
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
    func deliver(_ message: TunnelMessage) {
        switch message {
        case .delta(let delta):
            yield(delta.id, .delta(delta))
        case .embeddings(let embeddings):
            yield(embeddings.id, .embeddings(embeddings.vectors))
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

    func send(_ message: TunnelMessage) async throws {
        try await outbound.write(.text(try message.encodedText()))
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

    private func yield(_ id: String, _ event: NodeEvent, now: ContinuousClock.Instant = .now) {
        let continuation = state.withLock { state -> EventStream.Continuation? in
            state.pending[id]?.lastActivity = now
            return state.pending[id]?.continuation
        }
        continuation?.yield(event)
    }

    private func finish(_ id: String, throwing error: APIError) {
        let continuation = state.withLock { $0.pending.removeValue(forKey: id)?.continuation }
        continuation?.finish(throwing: error)
    }
}
