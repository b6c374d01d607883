import NodeProtocol
import Synchronization

/// The text of an answer whose client reads it whole (`stream: false`): the Hub assembles it
/// anyway, so after the first piece (sent at once: it marks the time to first token) the text
/// goes in one `delta` per ``interval`` and before `end`, not one frame per token. Every frame
/// costs both sides a WebSocket write, a JSON encode and decode, and a wake-up. Each delta says
/// how many pieces it carries (`pieces`): the Hub counts them as it would count deltas (the
/// bounds of the bill, the usage of an answer cut short).
///
/// A piece that comes ``interval`` or more after the last delta goes out at once, so the Hub
/// hears from a slow answer as often as before (`--request-idle-timeout`); ``limit`` bounds a
/// frame.
final class AnswerBatch: Sendable {
    private struct State {
        var content = ""
        var reasoning = ""
        var pieces = 0
        var lastSent: ContinuousClock.Instant?
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

    /// Adds one piece of the answer; returns the delta to send now, if one is due.
    func add(content: String = "", reasoning: String = "", now: ContinuousClock.Instant = .now) -> TunnelMessage.Delta? {
        state.withLock { state in
            state.content += content
            state.reasoning += reasoning
            state.pieces += 1
            if let lastSent = state.lastSent, now - lastSent < interval, state.content.utf8.count + state.reasoning.utf8.count < limit {
                return nil
            }
            state.lastSent = now
            return Self.take(&state, id: id)
        }
    }

    /// What is held, to send before the answer's `end`; nil when nothing is.
    func flush() -> TunnelMessage.Delta? {
        state.withLock { Self.take(&$0, id: id) }
    }

    private static func take(_ state: inout State, id: String) -> TunnelMessage.Delta? {
        guard state.pieces > 0 else { return nil }
        defer { (state.content, state.reasoning, state.pieces) = ("", "", 0) }
        // Text or reasoning, or an empty text for pieces that had none (as the engine gave them).
        let reasoning = state.reasoning.isEmpty ? nil : state.reasoning
        return TunnelMessage.Delta(
            id: id, content: state.content.isEmpty && reasoning != nil ? nil : state.content, reasoningContent: reasoning,
            pieces: state.pieces > 1 ? state.pieces : nil)
    }
}
