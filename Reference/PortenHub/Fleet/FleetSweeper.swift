import Logging
import ServiceLifecycle

/// Periodic fleet housekeeping: unloads models idle for a whole demand window, fails loads a
/// node went silent about (so a stuck load never blocks its model), and loads a replica of a
/// model whose queue has been waiting too long, sending the frames.
struct FleetSweeper: Service {
    let registry: NodeRegistry
    let loadIdleTimeout: Duration
    let interval: Duration
    let logger: Logger

    func run() async {
        await repeatUntilShutdown(every: interval) { await sweep() }
    }

    func sweep() async {
        let idle = await registry.evictIdle()
        let stalled = await registry.expireLoads(silentFor: loadIdleTimeout)
        let replicas = await registry.replicate()
        for command in idle + stalled + replicas {
            logger.info("fleet housekeeping", metadata: ["node": .string(command.connection.node.id), "frame": .string(command.frame.type)])
            try? await command.connection.send(command.frame)
        }
    }
}
