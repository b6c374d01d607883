import Foundation
import OpenAIWire

// MARK: - Frames from a node, checked at the tunnel boundary

extension TunnelMessage {
    /// Bounds on what a node may claim. A node is not trusted: every number it sends is checked
    /// here once, so nothing behind the tunnel needs to guard against overflow or nonsense.
    public enum Bounds {
        /// Token counts of one request (prompt or completion).
        public static let tokens = 1 << 31
        /// Sizes in MB (a petabyte).
        public static let megabytes = 1 << 30
        /// Requests a node runs at once.
        public static let concurrency = 4096
        /// Models in a hello.
        public static let models = 10_000
        /// Characters of a node's error message or a model id.
        public static let text = 4096
        /// Tool calls in one answer.
        public static let toolCalls = 128
        /// Seconds of a `Retry-After` a node passes on.
        public static let retryAfter = 3600
        /// Milliseconds a node says it held a first piece (`held_ms`): a day.
        public static let heldMS = 86_400_000
        /// Values in one frame, and objects and arrays of them: enough for an embeddings frame of
        /// the 4 Mi floats the Hub takes per answer, or a hello of ``models`` models; a frame of
        /// tiny vectors (`[[0],[0],…]`) cannot make the Hub build a tree many times its size.
        public static let frame = JSONParser.Budget(values: (1 << 22) + (1 << 16), containers: 1 << 16)
        /// Vectors in one embeddings frame: a request's inputs at most.
        public static let vectors = EmbeddingRequest.maximumInputs
    }

    /// Why a node's frame was refused.
    public struct InvalidFrame: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        /// The request the frame was about, when it names one: that request fails with a 502.
        public var requestID: String?
    }

    /// Decodes a frame a node sent, keeping only node → hub types and checking every value in it
    /// against what the protocol allows (docs/node-protocol.md, "What the Hub checks").
    ///
    /// Values with one safe reading are normalised: token counts are clamped to 0…``Bounds/tokens``
    /// and `total_tokens` is recomputed; progress is clamped to 0…``Bounds/megabytes`` with
    /// `done_mb` ≤ `total_mb`; a `fail` status outside 400…599 becomes `502 node_error`. Values
    /// without one (a tool-call index out of range, a non-finite vector component, a frame type
    /// the Hub sends) make the frame invalid.
    public static func fromNode(text: String) throws(InvalidFrame) -> TunnelMessage {
        let decoded: TunnelMessage
        do { decoded = try TunnelMessage(text: text, budget: Bounds.frame) } catch {
            // A frame about a request that cannot be read (a count of 1e300) still ends that request;
            // one over the budget is not parsed again.
            let overBudget = (error as? JSONParser.SyntaxError)?.overBudget == true
            let id = overBudget ? nil : (try? JSONParser.parse(Array(text.utf8), maximumDepth: maximumDepth, budget: Bounds.frame))?["id"]?.stringValue
            throw InvalidFrame(description: "undecodable frame: \(error)".prefix(Bounds.text).description, requestID: id)
        }
        return try decoded.checkedFromNode()
    }

    /// This frame as the Hub accepts it from a node (see ``fromNode(text:)``).
    public func checkedFromNode() throws(InvalidFrame) -> TunnelMessage {
        switch self {
        case .hello(var hello):
            guard hello.models.count <= Bounds.models else { throw InvalidFrame(description: "hello lists more than \(Bounds.models) models") }
            guard (1...Bounds.concurrency).contains(hello.concurrency) else {
                throw InvalidFrame(description: "hello concurrency must be 1…\(Bounds.concurrency)")
            }
            hello.vramMB = hello.vramMB.map(Self.clampMB)
            hello.diskMB = hello.diskMB.map(Self.clampMB)
            hello.models = hello.models.filter { $0.id.count <= Bounds.text }
            return .hello(hello)
        case .delta(var delta):
            if let call = delta.toolCall, !(0..<Bounds.toolCalls).contains(call.index) {
                throw InvalidFrame(description: "tool_call index \(call.index) is outside 0…\(Bounds.toolCalls - 1)", requestID: delta.id)
            }
            try Self.checkPieces(delta.pieces, of: "delta", id: delta.id)
            delta.heldMS = delta.heldMS.map { Self.clamp($0, to: Bounds.heldMS) }
            return .delta(delta)
        case .embeddings(let embeddings):
            guard embeddings.vectors.count <= Bounds.vectors else {
                throw InvalidFrame(description: "more than \(Bounds.vectors) embeddings in one frame", requestID: embeddings.id)
            }
            guard embeddings.vectors.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isFinite) }) else {
                throw InvalidFrame(description: "an embedding is empty or has a non-finite component", requestID: embeddings.id)
            }
            return self
        case .end(var end):
            end.usage = Self.checked(end.usage)
            try Self.checkPieces(end.pieces, of: "end", id: end.id)
            end.heldMS = end.heldMS.map { Self.clamp($0, to: Bounds.heldMS) }
            return .end(end)
        case .fail(var fail):
            fail.error = Self.checked(fail.error)
            return .fail(fail)
        case .progress(var progress):
            progress.totalMB = Self.clampMB(progress.totalMB)
            progress.doneMB = min(Self.clampMB(progress.doneMB), progress.totalMB)
            return .progress(progress)
        case .loaded(let ref), .unloaded(let ref):
            guard ref.model.count <= Bounds.text else { throw InvalidFrame(description: "model id too long") }
            return self
        case .loadFailed(var failure):
            failure.message = String(failure.message.prefix(Bounds.text))
            return .loadFailed(failure)
        case .welcome, .infer, .cancel, .load, .unload:
            throw InvalidFrame(description: "'\(type)' is a frame the Hub sends, not a node")
        }
    }

    /// A frame's `pieces`, when present, is at least one.
    private static func checkPieces(_ pieces: Int?, of type: String, id: String) throws(InvalidFrame) {
        if let pieces, pieces < 1 { throw InvalidFrame(description: "\(type) pieces must be at least 1", requestID: id) }
    }

    /// Counts within 0…``Bounds/tokens``, reasoning within the completion, total = the sum.
    static func checked(_ usage: Usage) -> Usage {
        let completion = clamp(usage.completionTokens, to: Bounds.tokens)
        return Usage(
            promptTokens: clamp(usage.promptTokens, to: Bounds.tokens), completionTokens: completion,
            reasoningTokens: usage.completionTokensDetails.map { clamp($0.reasoningTokens, to: completion) })
    }

    /// A node's error as a client may see it: a 4xx or 5xx status other than 401 and 403 (else
    /// `502 node_error` with the node's message), bounded text, a `Retry-After` within 1…``Bounds/retryAfter``.
    static func checked(_ error: APIError) -> APIError {
        let message = String(error.message.prefix(Bounds.text))
        // 401 and 403 speak of the client's key, which only the Hub judges.
        guard (400...599).contains(error.status), error.status != 401, error.status != 403 else {
            return .nodeError(String("The node failed the request with an invalid status (\(error.status)): \(message)".prefix(Bounds.text)))
        }
        var checked = error
        checked.message = message
        checked.type = String(error.type.prefix(64))
        checked.param = error.param.map { String($0.prefix(256)) }
        checked.code = error.code.map { String($0.prefix(64)) }
        checked.retryAfter = error.retryAfter.map { min(max($0, 1), Bounds.retryAfter) }
        return checked
    }

    private static func clampMB(_ value: Int) -> Int { clamp(value, to: Bounds.megabytes) }

    private static func clamp(_ value: Int, to upper: Int) -> Int { min(max(value, 0), upper) }
}
