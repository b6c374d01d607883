import Hummingbird
import OpenAIWire

/// `GET /public/v1/models/warming?model=…` (no auth): a model's load progress, for progress bars.
struct WarmingController: Sendable {
    let services: HubServices

    func show(_ request: Request, context: HubRequestContext) async throws -> Response {
        guard let model = request.uri.queryParameters.get("model"), !model.isEmpty else {
            throw APIError.invalidRequest("Pass the model as ?model=<id>.", param: "model", code: "missing_required_parameter")
        }
        guard services.catalog.offered(model) != nil else { throw APIError.modelNotFound(model) }
        let local = await services.registry.warming(model)
        return JSONResponse.make(await services.replicas?.warming(model, local: local) ?? local)
    }
}
