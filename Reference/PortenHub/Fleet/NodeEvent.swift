import NodeProtocol
import OpenAIWire

/// What the Hub receives from a node for one request, in order; a `fail` frame ends the
/// stream with its ``APIError`` instead.
public enum NodeEvent: Sendable, Equatable {
    case delta(TunnelMessage.Delta)
    case embeddings([[Float]])
    case end(finishReason: String?, usage: Usage)
}
