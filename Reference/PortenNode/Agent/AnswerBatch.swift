import NodeProtocol
import Synchronization

/// The text of an answer whose client reads it whole (`stream: false`): the Hub assembles it
/// anyway, so the text goes in one `delta` per ``interval`` and the rest before or with `end`, not
/// one frame per token. Every frame costs both sides a WebSocket write, a JSON encode and decode,
/// and a wake-up. Each delta says how many pieces it carries (`pieces`): the Hub counts them as it
/// would count deltas (the bounds of the bill, the usage of an answer cut short).
///
/// For a Hub that reads text on `end` (`end_text`), the first piece is held too, from the request
/// on, and the first delta says how long (`held_ms`; the Hub dates the first token from it): an
/// answer done within ``interval`` takes one frame. For an older Hub the first piece goes at once.
///
/// A piece that comes ``interval`` or more after the request or the last delta goes out at once, so
/// the Hub hears from a slow answer as often as before (`--request-idle-timeout`); ``limit``
/// bounds a frame.
final class AnswerBatch: Sendable {
    private struct State {
        var content = ""
        var reasoning = ""
        var pieces = 0
        var lastSent: ContinuousClock.Instant?
        /// When the answer's first piece came, until it is sent.
        var firstPiece: ContinuousClock.Instant?
        var sentAny = false
    }

    let id: String
    let interval: Duration
    let limit: Int
    private let state: Mutex<State>

    /// `holdingFrom`: when the request came, to hold its first piece from then on; nil sends
    /// the first piece at once (a Hub that does not read `held_ms` dates the first token from it).
    init(id: String, interval: Duration = .milliseconds(250), limit: Int = 64 << 10, holdingFrom started: ContinuousClock.Instant?) {
        self.id = id
        self.interval = interval
        self.limit = limit
        state = Mutex(State(lastSent: started))
    }

    /// Adds one piece of the answer; returns the delta to send now, if one is due.
    func add(content: String = "", reasoning: String = "", now: ContinuousClock.Instant = .now) -> TunnelMessage.Delta? {
        state.withLock { state in
            state.content += content
            state.reasoning += reasoning
            state.pieces += 1
            if !state.sentAny, state.firstPiece == nil { state.firstPiece = now }
            if let lastSent = state.lastSent, now - lastSent < interval, state.content.utf8.count + state.reasoning.utf8.count < limit {
                return nil
            }
            state.lastSent = now
            return Self.take(&state, id: id, now: now)
        }
    }

    /// What is held, to send with (or before) the answer's `end`; nil when nothing is.
    func flush(now: ContinuousClock.Instant = .now) -> TunnelMessage.Delta? {
        state.withLock { Self.take(&$0, id: id, now: now) }
    }

    private static func take(_ state: inout State, id: String, now: ContinuousClock.Instant) -> TunnelMessage.Delta? {
        guard state.pieces > 0 else { return nil }
        defer { (state.content, state.reasoning, state.pieces, state.firstPiece, state.sentAny) = ("", "", 0, nil, true) }
        // Text or reasoning, or an empty text for pieces that had none (as the engine gave them).
        let reasoning = state.reasoning.isEmpty ? nil : state.reasoning
        let held = state.firstPiece.map { (now - $0).wholeMilliseconds }
        return TunnelMessage.Delta(
            id: id, content: state.content.isEmpty && reasoning != nil ? nil : state.content, reasoningContent: reasoning,
            pieces: state.pieces > 1 ? state.pieces : nil, heldMS: held.flatMap { $0 > 0 ? $0 : nil })
    }
}
