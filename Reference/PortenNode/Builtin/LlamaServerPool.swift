import AsyncHTTPClient
import Foundation
import Logging
import NodeProtocol

/// The llama-servers of a builtin node, one per loaded model. A server that exits on its own is
/// dropped and its model published on `lost`, so the tunnel can report it `unloaded`.
actor LlamaServerPool {
    let binary: URL
    let extraArguments: [String]
    let logDirectory: URL
    let client: HTTPClient
    let healthTimeout: Duration
    let stopGrace: Duration
    let logger: Logger
    nonisolated let lost = Broadcast<String>()
    private var servers: [String: LlamaServerProcess] = [:]
    private var starting: Set<String> = []

    init(binary: URL, extraArguments: [String], logDirectory: URL, client: HTTPClient, healthTimeout: Duration, stopGrace: Duration, logger: Logger) {
        self.binary = binary
        self.extraArguments = extraArguments
        self.logDirectory = logDirectory
        self.client = client
        self.healthTimeout = healthTimeout
        self.stopGrace = stopGrace
        self.logger = logger
    }

    /// The running server of a model.
    func server(for model: String) -> LlamaServerProcess? {
        guard let server = servers[model], server.isRunning else { return nil }
        return server
    }

    /// Models with a healthy server, and models whose server is starting.
    func states() -> (ready: [String], starting: [String]) {
        (servers.filter { $0.value.isRunning }.keys.sorted(), starting.sorted())
    }

    /// Models whose weights must stay on disk.
    func inUse() -> Set<String> { Set(servers.keys).union(starting) }

    /// Starts a server for the model and waits until it is healthy, calling `tick` every few seconds.
    func start(_ load: TunnelMessage.Load, weights: URL, tick: @Sendable () async -> Void) async throws {
        if server(for: load.model) != nil { return }
        starting.insert(load.model)
        defer { starting.remove(load.model) }
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        let port = try LoopbackPort.free()
        let (lost, logger) = (self.lost, self.logger)
        let server = try LlamaServerProcess(
            binary: binary, arguments: LlamaServerArguments.make(weights: weights.path, load: load, port: port, extra: extraArguments),
            model: load.model, port: port, apiKey: "sk-llama-" + UUID().uuidString.lowercased(),
            logFile: logDirectory.appendingPathComponent(weights.deletingPathExtension().lastPathComponent + ".log"),
            onUnexpectedExit: { exit in
                logger.warning("llama-server for \(load.model) \(exit)", metadata: ["port": "\(port)"])
                lost.publish(load.model)
            })
        logger.info("started llama-server for \(load.model)", metadata: ["pid": "\(server.pid)", "port": "\(port)", "log": "\(server.logFile.path)"])
        do {
            try await server.waitUntilHealthy(client: client, timeout: healthTimeout, tick: tick)
        } catch {
            await server.stop(grace: stopGrace)
            throw error
        }
        servers[load.model] = server
    }

    /// Stops the model's server (SIGTERM, then SIGKILL after the grace period).
    func stop(_ model: String) async {
        guard let server = servers.removeValue(forKey: model) else { return }
        await server.stop(grace: stopGrace)
        logger.info("stopped llama-server for \(model)", metadata: ["pid": "\(server.pid)"])
    }

    func stopAll() async {
        for model in servers.keys.sorted() { await stop(model) }
    }
}
