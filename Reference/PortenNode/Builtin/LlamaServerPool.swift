import AsyncHTTPClient
import Foundation
import Logging
import NodeProtocol

/// The llama-servers of a builtin node, one per loaded model, within the node's VRAM budget. A
/// server that exits on its own is dropped and its model published on `lost`, so the tunnel can
/// report it `unloaded`. Each running server has a pid file in `runDirectory`, so servers left
/// behind by an agent that was killed are stopped when the next agent starts.
actor LlamaServerPool {
    struct Settings: Sendable {
        var binary: URL
        var extraArguments: [String]
        var logDirectory: URL
        var runDirectory: URL
        var vramBudgetMB: Int
        var healthTimeout: Duration
        var stopGrace: Duration
    }

    let settings: Settings
    let client: HTTPClient
    let logger: Logger
    nonisolated let lost = Broadcast<String>()
    private var servers: [String: LlamaServerProcess] = [:]
    /// Models between ``reserve(_:)`` and the end of ``start(_:weights:tick:)``.
    private var starting: Set<String> = []
    /// VRAM of reserved and running models, from the catalog.
    private var vramMB: [String: Int] = [:]
    /// Models the Hub unloaded while they were starting: they are stopped once started.
    private var abandoned: Set<String> = []

    init(_ settings: Settings, client: HTTPClient, logger: Logger) {
        self.settings = settings
        self.client = client
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

    /// Claims the model's VRAM before its weights are fetched; throws when it does not fit.
    func reserve(_ load: TunnelMessage.Load) throws {
        guard server(for: load.model) == nil, !starting.contains(load.model) else { return }
        let used = vramMB.filter { starting.contains($0.key) || server(for: $0.key) != nil }.values.reduce(0, +)
        guard used + load.vramMB <= settings.vramBudgetMB else {
            throw EngineError(
                "'\(load.model)' needs \(load.vramMB) MB of VRAM; \(used) of the node's \(settings.vramBudgetMB) MB (PORTEN_VRAM_BUDGET_MB) are in use")
        }
        starting.insert(load.model)
        abandoned.remove(load.model)
        vramMB[load.model] = load.vramMB
    }

    /// Gives back a reservation whose load failed before a server started.
    func release(_ model: String) {
        if starting.remove(model) != nil, servers[model] == nil { vramMB[model] = nil }
    }

    /// Starts a server for the reserved model and waits until it is healthy, calling `tick` every
    /// few seconds.
    func start(_ load: TunnelMessage.Load, weights: URL, tick: @Sendable () async -> Void) async throws {
        if server(for: load.model) != nil { return }
        defer { release(load.model) }
        for directory in [settings.logDirectory, settings.runDirectory] {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        for attempt in 1...3 {
            let server = try launch(load, weights: weights)
            do {
                try await server.waitUntilHealthy(client: client, timeout: settings.healthTimeout, tick: tick)
                if abandoned.remove(load.model) != nil { throw EngineError("the Hub unloaded '\(load.model)' while it was starting") }
            } catch {
                await stop(server)
                // The free port was taken between choosing it and llama-server binding it.
                if attempt < 3, server.exitDescription != nil, server.logTail().contains("bind") { continue }
                throw error
            }
            server.markReady()
            servers[load.model] = server
            return
        }
    }

    /// Starts llama-server for the model on a free loopback port, with its log and pid file
    /// named after the weights file.
    private func launch(_ load: TunnelMessage.Load, weights: URL) throws -> LlamaServerProcess {
        let name = weights.deletingPathExtension().lastPathComponent
        let port = try LoopbackPort.free()
        let (lost, logger) = (self.lost, self.logger)
        let server = try LlamaServerProcess(
            binary: settings.binary,
            arguments: LlamaServerArguments.make(weights: weights.path, load: load, port: port, extra: settings.extraArguments),
            model: load.model, port: port, apiKey: "sk-llama-" + UUID().uuidString.lowercased(),
            logFile: settings.logDirectory.appendingPathComponent(name + ".log"), pidFile: settings.runDirectory.appendingPathComponent(name + ".pid"),
            onUnexpectedExit: { exit in
                logger.warning("llama-server for \(load.model) \(exit)", metadata: ["port": "\(port)"])
                lost.publish(load.model)
            })
        logger.info("started llama-server for \(load.model)", metadata: ["pid": "\(server.pid)", "port": "\(port)", "log": "\(server.logFile.path)"])
        return server
    }

    /// Stops the model's server (SIGTERM, then SIGKILL after the grace period); a model still
    /// starting is stopped as soon as it has started.
    func stop(_ model: String) async {
        guard let server = servers.removeValue(forKey: model) else {
            if starting.contains(model) { abandoned.insert(model) }
            return
        }
        vramMB[model] = nil
        await stop(server)
    }

    private func stop(_ server: LlamaServerProcess) async {
        await server.stop(grace: settings.stopGrace)
        logger.info("stopped llama-server for \(server.model)", metadata: ["pid": "\(server.pid)"])
    }

    func stopAll() async {
        for model in servers.keys.sorted() { await stop(model) }
    }

    /// Kills the llama-servers a previous agent left running (their pid files are still there and
    /// the process still serves a file of `weightsDirectory`); returns their pids.
    static func stopOrphans(runDirectory: URL, weightsDirectory: URL) -> [Int32] {
        let files = (try? FileManager.default.contentsOfDirectory(at: runDirectory, includingPropertiesForKeys: nil)) ?? []
        return files.filter { $0.pathExtension == "pid" }.compactMap { file in
            defer { try? FileManager.default.removeItem(at: file) }
            guard let text = try? String(contentsOf: file, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)),
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: command, as: UTF8.self).contains(weightsDirectory.path)
            else { return nil }
            kill(pid, SIGKILL)
            return pid
        }
    }
}
