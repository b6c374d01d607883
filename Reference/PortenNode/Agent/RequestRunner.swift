import Logging
import NodeProtocol
import OpenAIWire

/// Runs one `infer` frame against the engine and streams its frames back to the Hub.
struct RequestRunner: Sendable {
    let engine: any InferenceEngine
    let send: FrameSender
    let logger: Logger
    /// The Hub reads an answer's last text on its `end` (its welcome said `end_text`).
    var endText = false

    /// Runs the request until it ends or `cancelled` finishes, whichever comes first. `ended` is
    /// called when the request ended on its own, and must finish `cancelled` (the session
    /// forgets the request's signal): the caller's task waits on the signal itself, so a request
    /// costs one child task, not two.
    func run(_ infer: TunnelMessage.Infer, cancelled: AsyncStream<Void>, ended: @escaping @Sendable () -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await execute(infer)
                ended()
            }
            for await _ in cancelled {}
            group.cancelAll()
        }
    }

    private func execute(_ infer: TunnelMessage.Infer) async {
        let id = infer.id
        do {
            switch infer.kind {
            case .chat:
                let request = try ChatCompletionRequest(validating: infer.body)
                if let ctx = infer.ctx { try engine.checkContext(request, ctx: ctx) }
                // A client that reads the answer whole gets the same text in fewer frames.
                let batch = request.stream ? nil : AnswerBatch(id: id, holdingFrom: endText ? .now : nil)
                let outcome: ChatOutcome
                do {
                    outcome = try await engine.chat(request, capabilities: infer.capabilities) { event in
                        try Task.checkCancellation()
                        switch event {
                        case .content(let text): try await sendText(.init(id: id, content: text), through: batch)
                        case .reasoning(let text): try await sendText(.init(id: id, reasoningContent: text), through: batch)
                        case .toolCall(let piece):
                            // Text held so far goes first: the Hub hears the answer in its order.
                            if let held = batch?.flush() { try await send(.delta(held)) }
                            try await send(.delta(.init(id: id, toolCall: piece)))
                        }
                    }
                } catch where !(error is CancellationError) {
                    // What was generated before the failure reaches the Hub, as it would have unbatched.
                    if let held = batch?.flush() { try? await send(.delta(held)) }
                    throw error
                }
                // The held text rides on the end for a Hub that reads it there, else goes just before.
                let held = batch?.flush()
                if let held, !endText { try await send(.delta(held)) }
                try await send(.end(.init(id: id, finishReason: outcome.finishReason, usage: outcome.usage, last: endText ? held : nil)))
            case .embeddings:
                let request = try EmbeddingRequest(validating: infer.body)
                let result = try await engine.embed(request)
                try await send(.embeddings(.init(id: id, vectors: result.vectors)))
                try await send(.end(.init(id: id, finishReason: nil, usage: result.usage)))
            }
        } catch is CancellationError {
            logger.debug("request \(id) cancelled")
        } catch let error as APIError {
            try? await send(.fail(.init(id: id, error: error)))
        } catch let failure as EngineFailure {
            logger.error("request \(id) failed: \(failure.detail)")
            try? await send(.fail(.init(id: id, error: failure.error)))
        } catch {
            // An unexpected error may name internal addresses: it stays in this log.
            logger.error("request \(id) failed: \(error)")
            try? await send(.fail(.init(id: id, error: .nodeError("The node's engine failed; the node's log has the details under \(id)."))))
        }
    }

    /// Sends a piece of text now, or through `batch` (a client that reads the answer whole).
    private func sendText(_ delta: TunnelMessage.Delta, through batch: AnswerBatch?) async throws {
        guard let batch else { return try await send(.delta(delta)) }
        if let due = batch.add(content: delta.content ?? "", reasoning: delta.reasoningContent ?? "") { try await send(.delta(due)) }
    }
}
