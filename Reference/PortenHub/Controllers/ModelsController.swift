import Hummingbird
import OpenAIWire

/// `GET /v1/models`: every offered catalog model, and whether a node serves it right now;
/// `GET /v1/models/{model}`: one of them, or 404 `model_not_found` as OpenAI answers.
struct ModelsController: Sendable {
    let services: HubServices
    /// `created` of every model: when this Hub started (catalog entries carry no date).
    let created: Int

    func list(_ request: Request, context: HubRequestContext) async throws -> Response {
        _ = try context.requireAPIKey()
        let ready = await services.registry.readyModels()
        let models = services.catalog.offeredModels.map { model in
            ModelList.Model(
                id: model.id, created: created, ownedBy: model.ownedBy,
                porten: .init(ready: ready.contains(model.id), type: model.type.rawValue, ctx: model.ctx, capabilities: model.capabilities))
        }
        return JSONResponse.make(ModelList(data: models))
    }

    func retrieve(_ request: Request, context: HubRequestContext) async throws -> Response {
        _ = try context.requireAPIKey()
        let id = context.parameters.get("model") ?? ""
        guard let model = services.catalog.offeredModels.first(where: { $0.id == id }) else { throw APIError.modelNotFound(id) }
        let ready = await services.registry.readyModels().contains(model.id)
        return JSONResponse.make(
            ModelList.Model(
                id: model.id, created: created, ownedBy: model.ownedBy,
                porten: .init(ready: ready, type: model.type.rawValue, ctx: model.ctx, capabilities: model.capabilities)))
    }
}
