import Logging
import NodeProtocol

/// Runs one `load` frame against the engine and reports `progress`, then `loaded` or `load_failed`.
struct ModelLoader: Sendable {
    let engine: any InferenceEngine
    let send: FrameSender
    let logger: Logger

    func load(_ request: TunnelMessage.Load) async {
        logger.info("loading \(request.model)", metadata: ["disk_mb": "\(request.diskMB)", "vram_mb": "\(request.vramMB)"])
        do {
            try await engine.load(request) { progress in try? await send(.progress(progress)) }
            logger.info("loaded \(request.model)")
            try? await send(.loaded(.init(model: request.model)))
        } catch {
            logger.warning("loading \(request.model) failed: \(error)")
            try? await send(.loadFailed(.init(model: request.model, message: "\(error)")))
        }
    }
}
