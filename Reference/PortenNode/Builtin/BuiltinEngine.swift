import AsyncHTTPClient
import Foundation
import Logging
import NodeProtocol
import OpenAIWire

/// The `builtin` engine (provisionable): on `load` it downloads the catalog's GGUF into the
/// weights cache and starts one llama-server for the model on a loopback port; chat and
/// embeddings are proxied to that server the way the `openai` engine proxies any upstream.
/// `unload` stops the server; a server that dies is reported lost (the tunnel sends `unloaded`)
/// and requests it was answering fail with a message that says so.
public struct BuiltinEngine: InferenceEngine {
    public struct Configuration: Sendable {
        public var llamaServer: URL
        /// Arguments added to every llama-server command line (`PORTEN_LLAMA_ARGS`).
        public var llamaArguments: [String]
        public var weightsDirectory: URL
        public var vramBudgetMB: Int
        public var diskBudgetMB: Int
        public var concurrency: Int
        /// How long a starting llama-server may take to answer `/health`.
        public var healthTimeout: Duration
        /// Time between SIGTERM and SIGKILL when stopping a server.
        public var stopGrace: Duration

        public init(
            llamaServer: URL, llamaArguments: [String] = [], weightsDirectory: URL, vramBudgetMB: Int, diskBudgetMB: Int = 200_000,
            concurrency: Int = 16, healthTimeout: Duration = .seconds(600), stopGrace: Duration = .seconds(5)
        ) {
            self.llamaServer = llamaServer
            self.llamaArguments = llamaArguments
            self.weightsDirectory = weightsDirectory
            self.vramBudgetMB = vramBudgetMB
            self.diskBudgetMB = diskBudgetMB
            self.concurrency = concurrency
            self.healthTimeout = healthTimeout
            self.stopGrace = stopGrace
        }
    }

    public let name = "builtin"
    public let provisionable = true
    public let configuration: Configuration
    private let weights: WeightsStore
    private let servers: LlamaServerPool
    private let client: HTTPClient

    public init(_ configuration: Configuration, client: HTTPClient = .shared, logger: Logger = Logger(label: "porten.node.builtin")) {
        self.configuration = configuration
        self.client = client
        weights = WeightsStore(
            directory: configuration.weightsDirectory, budgetMB: configuration.diskBudgetMB, downloader: WeightsDownloader(client: client))
        let runDirectory = configuration.weightsDirectory.appendingPathComponent("run")
        servers = LlamaServerPool(
            .init(
                binary: configuration.llamaServer, extraArguments: configuration.llamaArguments,
                logDirectory: configuration.weightsDirectory.appendingPathComponent("logs"), runDirectory: runDirectory,
                vramBudgetMB: configuration.vramBudgetMB, healthTimeout: configuration.healthTimeout, stopGrace: configuration.stopGrace),
            client: client, logger: logger)
        let orphans = LlamaServerPool.stopOrphans(runDirectory: runDirectory, weightsDirectory: configuration.weightsDirectory)
        if !orphans.isEmpty { logger.warning("stopped llama-servers a previous agent left running", metadata: ["pids": "\(orphans)"]) }
    }

    public var concurrency: Int { configuration.concurrency }
    public var vramBudgetMB: Int? { configuration.vramBudgetMB }
    public var diskBudgetMB: Int? { configuration.diskBudgetMB }

    public func models() async -> [TunnelMessage.ModelState] {
        let (ready, starting) = await servers.states()
        let busy = Set(ready + starting)
        let onDisk = await weights.cached().map(\.model).filter { !busy.contains($0) }.sorted()
        return ready.map { .init(id: $0, state: .ready) } + starting.map { .init(id: $0, state: .loading) }
            + onDisk.map { .init(id: $0, state: .onDisk) }
    }

    /// Claim the VRAM, download (unless cached), then start llama-server and wait for its health endpoint.
    public func load(_ request: TunnelMessage.Load, progress: @Sendable (TunnelMessage.Progress) async -> Void) async throws {
        let model = request.model
        try await servers.reserve(request)
        do {
            let file = try await weights.ensure(request, inUse: await servers.inUse()) { done, total in
                await progress(.init(model: model, phase: .downloading, doneMB: Int(done >> 20), totalMB: Int((total + (1 << 20) - 1) >> 20)))
            }
            let loading = TunnelMessage.Progress(model: model, phase: .loading, doneMB: 0, totalMB: request.vramMB)
            await progress(loading)
            try await servers.start(request, weights: file) { await progress(loading) }
        } catch {
            await servers.release(model)
            throw error
        }
    }

    public func unload(model: String) async {
        await servers.stop(model)
    }

    public func chat(_ request: ChatCompletionRequest, capabilities: [String], emit: @Sendable (ChatEvent) async throws -> Void) async throws
        -> ChatOutcome
    {
        try await proxy(request.model) { upstream in try await upstream.chat(request, capabilities: capabilities, emit: emit) }
    }

    public func embed(_ request: EmbeddingRequest) async throws -> (vectors: [[Float]], usage: Usage) {
        try await proxy(request.model) { upstream in try await upstream.embed(request) }
    }

    /// Runs `body` against the model's llama-server; a failure while the server died says so.
    private func proxy<Result>(_ model: String, _ body: (OpenAIEngine) async throws -> Result) async throws -> Result {
        guard let server = await servers.server(for: model) else {
            throw APIError.nodeError("The model '\(model)' is not loaded on this node.")
        }
        let upstream = OpenAIEngine(baseURL: server.baseURL, models: [model], apiKey: server.apiKey, client: client, connections: server.connections)
        do {
            return try await body(upstream)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as APIError where UpstreamError.clientMistakes.contains(error.status) {
            throw error  // the server answered: the client's mistake, not a crash
        } catch {
            guard let exit = await exitDuring(server) else { throw error }
            throw APIError.nodeError("The llama-server serving '\(model)' \(exit) during the request; the node unloaded the model.")
        }
    }

    /// How the server ended, if it did (allowing a moment for the exit to be noticed after the
    /// connection broke).
    private func exitDuring(_ server: LlamaServerProcess) async -> String? {
        for _ in 0..<20 where server.isRunning {
            try? await Task.sleep(for: .milliseconds(25))
        }
        return server.exitDescription
    }

    /// Models whose llama-server exited on its own, as they are noticed.
    public func lostModels() -> AsyncStream<String> { servers.lost.subscribe() }

    /// Stops every llama-server (the agent is shutting down).
    public func shutdown() async { await servers.stopAll() }
}
