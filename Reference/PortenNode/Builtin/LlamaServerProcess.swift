import AsyncHTTPClient
import Foundation
import NIOCore
import NodeProtocol
import Synchronization

/// One llama-server child process serving one model on a loopback port, with its own random API
/// key so other local users cannot use it. Its output goes to a log file in the weights cache.
final class LlamaServerProcess: Sendable {
    let model: String
    let port: Int
    let apiKey: String
    let logFile: URL
    let pid: Int32
    /// Keep-alive connections to it, shared by its requests; closed when it stops.
    let connections: UpstreamConnectionPool
    private let lifecycle = Lifecycle()

    /// Whether it became ready, whether a stop was asked for, and how the process ended ("exited with status 1", "was
    /// killed by signal 9"; nil while it runs). Shared with the termination handler.
    private final class Lifecycle: Sendable {
        struct State {
            var ready = false
            var stopping = false
            var exit: String?
        }
        let state = Mutex(State())
    }

    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    var isRunning: Bool { lifecycle.state.withLock { $0.exit == nil } }
    /// How the process ended, or nil while it runs.
    var exitDescription: String? { lifecycle.state.withLock { $0.exit } }

    /// Starts `binary` with `arguments` and writes its pid to `pidFile`, which is removed whenever
    /// the process ends. `onUnexpectedExit` is called (from the reaper thread) with how it ended
    /// if it exits after ``markReady()`` without `stop`. (An exit before that fails the health
    /// wait instead.)
    init(
        binary: URL, arguments: [String], model: String, port: Int, apiKey: String, logFile: URL, pidFile: URL,
        onUnexpectedExit: @escaping @Sendable (String) -> Void
    ) throws {
        let lifecycle = lifecycle
        pid = try ChildProcess.spawn(
            binary.path, arguments: arguments, environment: Self.environment(apiKey: apiKey),
            logFile: logFile.path
        ) { exit in
            try? FileManager.default.removeItem(at: pidFile)
            let unexpected = lifecycle.state.withLock { state in
                state.exit = exit
                return state.ready && !state.stopping
            }
            if unexpected { onUnexpectedExit(exit) }
        }
        try? Data("\(pid)\n".utf8).write(to: pidFile)
        if lifecycle.state.withLock({ $0.exit != nil }) { try? FileManager.default.removeItem(at: pidFile) }  // it ended at once
        self.model = model
        self.port = port
        self.apiKey = apiKey
        connections = UpstreamConnectionPool(host: "127.0.0.1", port: port)
        self.logFile = logFile
    }

    /// The agent's environment without its own settings (the node credential stays with the
    /// agent), plus the server's API key.
    static func environment(apiKey: String, agent: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        agent.filter { !$0.key.hasPrefix("PORTEN_") }.merging(["LLAMA_API_KEY": apiKey]) { $1 }
    }

    /// Waits until `/health` answers 200 (llama-server answers 503 while it loads the model),
    /// calling `tick` every `tickInterval` meanwhile. Throws if the process ends or `timeout` passes.
    func waitUntilHealthy(client: HTTPClient, timeout: Duration, tickInterval: Duration = .seconds(2), tick: @Sendable () async -> Void) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var nextTick = clock.now + tickInterval
        while true {
            if let exit = exitDescription {
                throw EngineError("llama-server for '\(model)' \(exit) while loading it: \(logTail())")
            }
            if await answersHealth(client: client) { return }
            guard clock.now < deadline else {
                throw EngineError("llama-server for '\(model)' was not healthy after \(timeout); its log ends: \(logTail())")
            }
            if clock.now >= nextTick {
                await tick()
                nextTick = clock.now + tickInterval
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func answersHealth(client: HTTPClient) async -> Bool {
        // Until the port accepts, skip HTTP: failed connections make the client back off.
        guard LoopbackPort.accepts(port) else { return false }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/health")
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        return (try? await client.execute(request, timeout: .seconds(2)).status.code) == 200
    }

    /// From now on an exit is unexpected: the model was serving.
    func markReady() {
        lifecycle.state.withLock { $0.ready = true }
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` (or at once if the task is cancelled).
    func stop(grace: Duration) async {
        connections.shutdown()
        let running = lifecycle.state.withLock { state in
            state.stopping = true
            return state.exit == nil
        }
        guard running else { return }
        kill(pid, SIGTERM)
        if await waitForExit(within: grace) { return }
        kill(pid, SIGKILL)
        _ = await waitForExit(within: .seconds(10))
    }

    private func waitForExit(within limit: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while isRunning {
            guard clock.now < deadline, (try? await Task.sleep(for: .milliseconds(20))) != nil else { return !isRunning }
        }
        return true
    }

    /// The last lines of the process's log, for error messages.
    func logTail(lines: Int = 6) -> String {
        guard let handle = try? FileHandle(forReadingFrom: logFile) else { return "(no log)" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).suffix(lines).joined(separator: " | ")
    }
}
