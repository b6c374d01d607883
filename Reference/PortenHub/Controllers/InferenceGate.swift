import Hummingbird
import NodeProtocol
import OpenAIWire

/// What every inference request passes after validation: the key's model allow-list (403), its
/// rate limits (429), routing under its policy with the warm-up budget, and the proof headers
/// (`X-Porten-Node`, `X-Porten-Region`) of where it ran.
struct InferenceGate: Sendable {
    let services: HubServices

    func open(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, key: AuthenticatedKey, request: Request, requestID: String
    ) async throws(APIError) -> (dispatch: InferenceDispatch, headers: HTTPFields) {
        guard key.policy.allowsModel(model.id) else { throw .modelNotAllowed(model.id) }
        try services.rateLimiter.admit(key)
        let dispatch = try await InferenceDispatch.start(
            kind, model: model, body: body, requestID: requestID, caller: key.caller, keyID: key.keyID, registry: services.registry,
            budgets: try RequestBudgets.of(request, configuration: services.configuration))
        var headers = HTTPFields()
        headers[.portenNode] = dispatch.connection.node.id
        headers[.portenRegion] = dispatch.connection.node.region
        return (dispatch, headers)
    }
}
