import HummingbirdWSClient
import Logging
import NodeProtocol
import OpenAIWire

/// One connected tunnel on the node side: hello, welcome, then requests until the socket closes.
struct TunnelSession: Sendable {
    let engine: any InferenceEngine
    let logger: Logger
    let maximumFrameSize: Int
    /// How often a fixed engine's models are re-checked (upstream health).
    var healthInterval: Duration = .seconds(10)

    /// Frames larger than this (inline images, long contexts) run their request off the event loop.
    static let heavyFrameSize = 1 << 20

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let send = FrameSender(outbound: outbound)
        let hello = TunnelMessage.Hello(
            engine: engine.name, agent: NodeAgent.version, provisionable: engine.provisionable,
            concurrency: engine.concurrency, vramMB: engine.vramBudgetMB, diskMB: engine.diskBudgetMB, models: await engine.models())
        try await send(.hello(hello))
        let cancellations = CancellationRegistry()
        let unloads = PendingUnloads()
        await withDiscardingTaskGroup { group in
            let lost = engine.lostModels()
            group.addTask {
                for await model in lost {
                    logger.warning("lost \(model): its engine stopped serving it")
                    try? await send(.unloaded(.init(model: model)))
                }
            }
            if !engine.provisionable {
                let watcher = ModelWatcher(engine: engine, send: send, interval: healthInterval, logger: logger)
                group.addTask { await watcher.run(startingFrom: hello.models) }
            }
            // Whether the Hub reads an answer's last text on its `end` (its welcome says).
            var endText = false
            do {
                for try await message in inbound.messages(maxSize: maximumFrameSize) {
                    guard case .text(let text) = message else { continue }
                    let frame: TunnelMessage
                    do {
                        frame = try TunnelMessage(text: text)
                    } catch {
                        logger.warning("ignoring undecodable frame: \(error)")
                        continue
                    }
                    switch frame {
                    case .welcome(let welcome):
                        logger.info("connected as node \(welcome.nodeID) (region \(welcome.region), class \(welcome.trustClass)), serving \(welcome.acceptedModels)")
                        endText = welcome.endText ?? false
                    case .infer(let infer):
                        let runner = RequestRunner(engine: engine, send: send, logger: logger, endText: endText)
                        let cancelled = cancellations.register(infer.id)
                        // Requests run on the tunnel's event loop, except those with heavy JSON to
                        // parse or write (embeddings, large bodies), which would stall its other requests.
                        // Two calls, not `executorPreference: heavy ? … : nil`: measured, that form cost
                        // the node its loop (13 context switches per request at c=1 instead of 2).
                        if infer.kind == .embeddings || text.utf8.count > Self.heavyFrameSize {
                            group.addTask(executorPreference: globalConcurrentExecutor) {
                                await runner.run(infer, cancelled: cancelled) { cancellations.forget(infer.id) }
                            }
                        } else {
                            group.addTask { await runner.run(infer, cancelled: cancelled) { cancellations.forget(infer.id) } }
                        }
                    case .cancel(let cancel):
                        cancellations.cancel(cancel.id)
                    case .load(let load):
                        // Downloads and checksums are long and CPU-bound: off the tunnel's event loop.
                        // The unloads read before it go first: they free the VRAM it was planned into.
                        let unloadsBefore = unloads.mark()
                        group.addTask(executorPreference: globalConcurrentExecutor) {
                            await unloads.wait(for: unloadsBefore)
                            guard !unloads.unloaded(load.model, since: unloadsBefore) else {
                                logger.info("not loading \(load.model): the Hub unloaded it while the load waited for earlier unloads")
                                return
                            }
                            await ModelLoader(engine: engine, send: send, logger: logger).load(load)
                        }
                    case .unload(let unload):
                        // Stopping a server can take its grace period: the tunnel reads on meanwhile.
                        let ticket = unloads.begin(unload.model)
                        group.addTask(executorPreference: globalConcurrentExecutor) {
                            await engine.unload(model: unload.model)
                            logger.info("unloaded \(unload.model)")
                            // Sent before a load waiting for it goes on, so the Hub hears of both in order.
                            try? await send(.unloaded(unload))
                            unloads.end(ticket)
                        }
                    default:
                        logger.warning("ignoring unexpected \(frame.type) frame")
                    }
                }
            } catch is CancellationError {
                logger.debug("tunnel closed: agent stopping")
            } catch {
                logger.warning("tunnel read failed: \(error)")
            }
            group.cancelAll()
        }
    }
}

/// Writes tunnel frames; safe to call from many request tasks at once.
struct FrameSender: Sendable {
    let outbound: WebSocketOutboundWriter

    func callAsFunction(_ message: TunnelMessage) async throws {
        try await outbound.write(.text(try message.encodedText()))
    }
}
