import Logging
import NodeProtocol

/// Re-reads a fixed engine's models every `interval` (for `openai`: whether the upstream answers)
/// and tells the Hub what changed with `loaded` / `unloaded`, so a model is offered exactly while
/// its upstream can serve it.
struct ModelWatcher: Sendable {
    let engine: any InferenceEngine
    let send: FrameSender
    let interval: Duration
    let logger: Logger

    func run(startingFrom announced: [TunnelMessage.ModelState]) async {
        var ready = Self.readyIDs(announced)
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            let now = Self.readyIDs(await engine.models())
            for frame in Self.changes(from: ready, to: now) {
                logger.info("engine models changed: \(frame.type)")
                try? await send(frame)
            }
            ready = now
        }
    }

    static func readyIDs(_ states: [TunnelMessage.ModelState]) -> Set<String> {
        Set(states.filter { $0.state == .ready }.map(\.id))
    }

    /// `unloaded` for models no longer ready, `loaded` for models that became ready, sorted by id.
    static func changes(from old: Set<String>, to new: Set<String>) -> [TunnelMessage] {
        old.subtracting(new).sorted().map { .unloaded(.init(model: $0)) } + new.subtracting(old).sorted().map { .loaded(.init(model: $0)) }
    }
}
