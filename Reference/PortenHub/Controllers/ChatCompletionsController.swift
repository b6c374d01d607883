import Foundation
import Hummingbird
import NIOCore
import NodeProtocol
import OpenAIWire

/// `POST /v1/chat/completions`: validates, routes to a node, and answers as JSON or SSE.
struct ChatCompletionsController: Sendable {
    let services: HubServices

    func create(_ request: Request, context: HubRequestContext) async throws -> Response {
        let key = try context.requireAPIKey()
        var meter = UsageMeter(services, requestID: context.requestID, endpoint: "chat.completions", key: key)
        do {
            let chat = try ChatCompletionRequest(
                validating: try await RequestBody.json(request, limit: services.configuration.maximumBodySize))
            meter.model = chat.model
            meter.user = chat.user
            meter.metadata = chat.metadata
            let model = try chatModel(chat.model)
            meter.price = Price(model)
            meter.promptLimit = min(model.ctx, JSONText.compact(chat.body).utf8.count)
            meter.completionLimit = min(model.ctx, chat.maxTokens ?? model.ctx)
            try CapabilityCheck.check(chat, model: model, catalog: services.catalog)
            if let answer = try await ReplicaForward(services: services).ifElsewhere(
                "chat/completions", model: model, key: key, body: chat.body, request: request, context: context)
            {
                return answer  // metered where it ran
            }
            let id = "chatcmpl-" + context.requestID.dropFirst(4)
            if chat.stream, let after = services.configuration.streamKeepAliveAfter {
                return try await KeepAliveStream(services: services, after: after).respond(
                    chat: chat, model: model, key: key, headers: request.headers, requestID: context.requestID, id: id, meter: meter)
            }
            let (dispatch, headers) = try await InferenceGate(services: services).open(
                .chat, model: model, body: chat.body, key: key, headers: request.headers, requestID: context.requestID, meter: &meter)
            meter.served(by: dispatch)
            let created = Int(Date().timeIntervalSince1970)
            if chat.stream {
                return Self.streamingResponse(
                    dispatch, encoder: ChatStreamEncoder(id: id, created: created, model: model.id), includeUsage: chat.includeUsage,
                    meter: meter, headers: headers)
            }
            let completion = try await collect(dispatch, id: id, created: created, model: model.id, meter: &meter)
            try await meter.commit(usage: completion.usage)
            // A long answer is encoded off the connection's event loop (``LoopOrPoolMiddleware``).
            let text = meter.relayedBytes > LoopOrPoolMiddleware.onLoopBodySize
                ? await withTaskExecutorPreference(globalConcurrentExecutor) { completion.jsonText } : completion.jsonText
            return JSONResponse.make(text: text, headers: headers)
        } catch {
            meter.finish(status: error.status, usage: nil, code: error.code)
            throw error
        }
    }

    /// The offered chat model `id`, or the error a client should see.
    private func chatModel(_ id: String) throws(APIError) -> CatalogModel {
        guard let model = services.catalog.offered(id) else { throw .modelNotFound(id) }
        guard model.type == .chat else {
            throw .invalidRequest("'\(id)' is an embedding model; use POST /v1/embeddings with it.", param: "model", code: "model_not_supported")
        }
        return model
    }

    /// Runs a non-streaming request to its end and assembles the completion.
    @inline(never)  // its frame stays out of its callers' frames (an idle stream holds them)
    private func collect(_ dispatch: InferenceDispatch, id: String, created: Int, model: String, meter: inout UsageMeter)
        async throws(APIError) -> ChatCompletion
    {
        var content = ""
        var reasoning: String?
        var toolCalls = ToolCallAssembler()
        let ending: (finishReason: String?, usage: Usage)
        do {
            ending = try await Self.drain(dispatch) { delta in
                meter.relayed(delta)
                content += delta.content ?? ""
                if let thought = delta.reasoningContent { reasoning = (reasoning ?? "") + thought }
                if let call = delta.toolCall { toolCalls.add(call) }
            }
        } catch {
            await dispatch.close()
            throw error
        }
        await dispatch.close()
        // A turn of only tool calls has `content: null`, as OpenAI's.
        let message = ChatCompletion.Message(
            content: toolCalls.isEmpty || !content.isEmpty ? content : nil, reasoningContent: reasoning,
            toolCalls: toolCalls.isEmpty ? nil : toolCalls.toolCalls)
        return ChatCompletion(
            id: id, created: created, model: model, choices: [.init(message: message, finishReason: ending.finishReason ?? "stop")],
            usage: meter.bounded(ending.usage))
    }

    /// Reads events until `end`, handing each delta to `onDelta`.
    private static func drain(_ dispatch: InferenceDispatch, onDelta: (TunnelMessage.Delta) -> Void) async throws(APIError) -> (
        finishReason: String?, usage: Usage
    ) {
        while let event = try await dispatch.next() {
            switch event {
            case .delta(let delta): onDelta(delta)
            case .end(let finishReason, let usage): return (finishReason, usage)
            case .embeddings: continue
            }
        }
        throw .nodeError("The node ended the request without a result.")
    }

    /// Relays the node's events as SSE, each written as soon as it arrives.
    static func streamingResponse(
        _ dispatch: InferenceDispatch, encoder: ChatStreamEncoder, includeUsage: Bool, meter: UsageMeter, headers: HTTPFields
    ) -> Response {
        let claim = BodyClaim(meter: meter) { await dispatch.close() }
        let body = ResponseBody { (writer: inout any ResponseBodyWriter) in
            claim.claim()
            var meter = meter
            await Self.relay(dispatch, encoder: encoder, includeUsage: includeUsage, meter: &meter, to: &writer)
        }
        return Response(status: .ok, headers: Self.streamHeaders(headers), body: body)
    }

    static func streamHeaders(_ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return headers
    }

    /// Writes the node's events to `writer` as SSE until the answer ends, the node fails (an
    /// in-stream error) or the client leaves; then closes the dispatch and meters the request.
    /// Each event is written as soon as it arrives; events that arrived together are written
    /// together (one write, not one per chunk).
    static func relay(
        _ dispatch: InferenceDispatch, encoder: ChatStreamEncoder, includeUsage: Bool, meter: inout UsageMeter,
        to writer: inout any ResponseBodyWriter
    ) async {
        var status = 200
        var usage: Usage?
        var committed = false
        var roleWritten = false
        // Frames of the events in so far, not yet written.
        var unwritten = ""
        do {
            streaming: while true {
                let event: NodeEvent
                if let ready = dispatch.nextIfReady() {
                    event = ready
                } else {
                    if !unwritten.isEmpty {
                        try await writer.write(ByteBuffer(string: unwritten))
                        unwritten = ""
                    }
                    do throws(APIError) {
                        guard let next = try await dispatch.next() else {
                            status = 499
                            break streaming
                        }
                        event = next
                    } catch {
                        status = error.status
                        unwritten += encoder.errorFrame(error)
                        break streaming
                    }
                }
                switch event {
                case .delta(let delta):
                    meter.relayed(delta, streamed: true)
                    if !roleWritten { unwritten += encoder.roleFrame(before: delta) }
                    roleWritten = true
                    unwritten += encoder.deltaFrame(delta)
                    if unwritten.utf8.count >= Self.largestWrite {
                        try await writer.write(ByteBuffer(string: unwritten))
                        unwritten = ""
                    }
                case .end(let finishReason, let reported):
                    let finalUsage = meter.bounded(reported)
                    usage = finalUsage
                    // The row is durable before the client sees the answer end; an answer that
                    // cannot be metered ends with an error instead.
                    do throws(APIError) {
                        try await meter.commit(usage: finalUsage)
                    } catch {
                        status = error.status
                        unwritten += encoder.errorFrame(error)
                        break streaming
                    }
                    committed = true
                    unwritten += (roleWritten ? "" : encoder.roleFrame(before: nil)) + encoder.finishFrame(reason: finishReason ?? "stop")
                    if includeUsage { unwritten += encoder.usageFrame(finalUsage) }
                    break streaming
                case .embeddings:
                    continue
                }
            }
            try await writer.write(ByteBuffer(string: unwritten + ServerSentEvents.done))
            try await writer.finish(nil)
        } catch {
            status = 499  // the client went away; the node is told to stop below
        }
        await dispatch.close()
        if !committed { meter.finish(status: status, usage: usage) }
    }

    /// The most SSE text gathered for one write.
    static let largestWrite = 64 << 10
}
