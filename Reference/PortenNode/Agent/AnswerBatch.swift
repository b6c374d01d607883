import NodeProtocol
import Synchronization

/// The text of an answer whose client reads it whole (`stream: false`): the Hub assembles it
/// anyway, so after the first piece (sent at once: it marks the time to first token) the text
/// goes in one `delta` per ``interval`` and before `end`, not one frame per token. Every frame
/// costs both sides a WebSocket write, a JSON encode and decode, and a wake-up.
///
/// The interval keeps a long answer from looking silent to the Hub (`--request-idle-timeout`)
/// and bounds what is held; ``limit`` bounds a frame.
final class AnswerBatch: Sendable {
    private struct State {
        var content = ""
        var reasoning = ""
        var sentFirst = false
        var heldSince: ContinuousClock.Instant?
    }

    let id: String
    let interval: Duration
    let limit: Int
    private let state = Mutex(State())

    init(id: String, interval: Duration = .milliseconds(250), limit: Int = 64 << 10) {
        self.id = id
        self.interval = interval
        self.limit = limit
    }

    /// Adds a piece of text; returns the delta to send now, if one is due.
    func add(content: String = "", reasoning: String = "", now: ContinuousClock.Instant = .now) -> TunnelMessage.Delta? {
        state.withLock { state in
            state.content += content
            state.reasoning += reasoning
            guard !state.content.isEmpty || !state.reasoning.isEmpty else { return nil }
            let since = state.heldSince ?? now
            state.heldSince = since
            guard !state.sentFirst || now - since >= interval || state.content.utf8.count + state.reasoning.utf8.count >= limit else {
                return nil
            }
            state.sentFirst = true
            return Self.take(&state, id: id)
        }
    }

    /// What is held, to send before the answer's `end`; nil when nothing is.
    func flush() -> TunnelMessage.Delta? {
        state.withLock { Self.take(&$0, id: id) }
    }

    private static func take(_ state: inout State, id: String) -> TunnelMessage.Delta? {
        guard !state.content.isEmpty || !state.reasoning.isEmpty else { return nil }
        defer { (state.content, state.reasoning, state.heldSince) = ("", "", nil) }
        return TunnelMessage.Delta(id: id, content: state.content.isEmpty ? nil : state.content,
                                   reasoningContent: state.reasoning.isEmpty ? nil : state.reasoning)
    }
}
