import OpenAIWire

/// Whether a chat request may go to a model: tools need `tools`, `response_format` JSON needs
/// `json`, images need `vision` in the model's catalog entry. A mismatch is the client's 400,
/// never a capacity error, and names the offered models that would do.
enum CapabilityCheck {
    static func check(_ chat: ChatCompletionRequest, model: CatalogModel, catalog: Catalog) throws(APIError) {
        for capability in chat.requiredCapabilities where !model.capabilities.contains(capability) {
            let able = catalog.offeredModels.filter { $0.type == .chat && $0.capabilities.contains(capability) }.map(\.id)
            let hint = able.isEmpty ? "No offered model has it." : "Models that do: \(able.joined(separator: ", "))."
            throw .invalidRequest(
                "The model '\(model.id)' does not support \(description(of: capability)) (its catalog entry lacks '\(capability)'). \(hint)",
                param: param(for: capability, in: chat), code: "model_not_supported")
        }
    }

    private static func description(of capability: String) -> String {
        switch capability {
        case "tools": "tools (function calling)"
        case "json": "JSON output (response_format)"
        case "vision": "images"
        default: capability
        }
    }

    private static func param(for capability: String, in chat: ChatCompletionRequest) -> String {
        switch capability {
        case "tools": return "tools"
        case "json": return "response_format"
        default:
            let index = chat.messages.firstIndex { !$0.images.isEmpty } ?? 0
            return "messages[\(index)].content"
        }
    }
}
