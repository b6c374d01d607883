import Hummingbird
import OpenAIWire

/// `POST /v1/embeddings`: the node returns floats; the Hub applies `encoding_format`.
struct EmbeddingsController: Sendable {
    let services: HubServices

    func create(_ request: Request, context: HubRequestContext) async throws -> Response {
        let key = try context.requireAPIKey()
        var meter = UsageMeter(services, requestID: context.requestID, endpoint: "embeddings", key: key)
        do {
            let embedding = try EmbeddingRequest(validating: try await RequestBody.json(request, limit: services.configuration.maximumBodySize))
            meter.model = embedding.model
            guard let model = services.catalog.offered(embedding.model) else { throw APIError.modelNotFound(embedding.model) }
            meter.price = Price(model)
            meter.promptLimit = min(JSONText.compact(embedding.body).utf8.count, model.ctx * max(1, embedding.inputs.count))
            meter.completionLimit = 0
            guard model.type == .embedding else {
                throw APIError.invalidRequest(
                    "'\(model.id)' is a chat model; use an embedding model with POST /v1/embeddings.", param: "model",
                    code: "model_not_supported")
            }
            if let answer = try await ReplicaForward(services: services).ifElsewhere(
                "embeddings", model: model, key: key, body: embedding.body, request: request, context: context)
            {
                return answer  // metered where it ran
            }
            let (dispatch, headers) = try await InferenceGate(services: services).open(
                .embeddings, model: model, body: embedding.body, key: key, headers: request.headers, requestID: context.requestID, meter: &meter)
            meter.served(by: dispatch)
            let (vectors, reported) = try await collect(dispatch, inputs: embedding.inputs.count)
            let usage = meter.bounded(reported)
            guard vectors.count == embedding.inputs.count else {
                throw APIError.nodeError("The node returned \(vectors.count) embeddings for \(embedding.inputs.count) inputs.")
            }
            let widths = Set(vectors.map(\.count))
            guard widths.count == 1, let width = widths.first, width > 0 else {
                throw APIError.nodeError("The node returned embeddings of widths \(widths.sorted().prefix(4)); one width above 0 was expected.")
            }
            let data = vectors.enumerated().map { index, vector in
                EmbeddingResponse.Embedding(
                    index: index, embedding: embedding.encodingFormat == .base64 ? .base64(of: vector) : .float(vector))
            }
            try await meter.commit(usage: usage)
            return JSONResponse.make(
                EmbeddingResponse(data: data, model: model.id, usage: .init(promptTokens: usage.promptTokens)), headers: headers)
        } catch {
            meter.finish(status: (error as? APIError)?.status ?? 500, usage: nil, code: (error as? APIError)?.code)
            throw error
        }
    }

    /// The node's vectors and count; a node that sends more vectors than there are `inputs` has the
    /// request failed at once (it is not buffered to the end).
    private func collect(_ dispatch: InferenceDispatch, inputs: Int) async throws(APIError) -> ([[Float]], Usage) {
        var vectors: [[Float]] = []
        do throws(APIError) {
            while let event = try await dispatch.next() {
                switch event {
                case .embeddings(let batch):
                    vectors += batch
                    guard vectors.count <= inputs else {
                        throw .nodeError("The node returned more than \(inputs) embeddings for \(inputs) inputs.")
                    }
                case .end(_, let usage):
                    await dispatch.close()
                    return (vectors, usage)
                case .delta: continue
                }
            }
            throw .nodeError("The node ended the request without a result.")
        } catch {
            await dispatch.close()
            throw error
        }
    }
}
