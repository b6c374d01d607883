import ArgumentParser
import Foundation
import Logging
import PortenNode
import ServiceLifecycle

/// `porten node`: the node agent.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Run a node agent connected to a Hub.")

    @Option(help: "Hub URL, e.g. http://127.0.0.1:8080 (env PORTEN_HUB_URL).")
    var hub: String?
    @Option(help: "The node credential the operator issued (env PORTEN_NODE_CREDENTIAL).")
    var credential: String?
    @Option(help: "Engine: sim, openai or ollama (env PORTEN_ENGINE).")
    var engine: String?
    @Option(help: "openai: the upstream's base URL, e.g. http://127.0.0.1:8000/v1; ollama: default http://127.0.0.1:11434 (env PORTEN_ENGINE_URL).")
    var engineURL: String?
    @Option(help: "openai: the upstream's API key, if it wants one (env PORTEN_ENGINE_API_KEY).")
    var engineAPIKey: String?
    @Option(help: "Comma-separated models to serve (env PORTEN_ENGINE_MODELS); sim serves the ref-* models by default.")
    var models: String?
    @Option(help: "Requests the node runs at once.") var concurrency = 16
    @Option(help: "sim: milliseconds between streamed tokens.") var tokenDelayMs = 0
    @Option(help: "VRAM in MB the Hub may fill with models (env PORTEN_VRAM_BUDGET_MB); makes a sim node provisionable.")
    var vramBudgetMb: Int?
    @Option(help: "Disk in MB for cached weights (env PORTEN_AUTO_DOWNLOAD_MB).") var autoDownloadMb: Int?
    @Option(help: "Seconds between checks that a fixed engine's models still work (openai: the upstream answers).")
    var healthInterval = 10.0
    @Option(help: "sim: simulated download speed in MB/s.") var simDownloadMbps = 1000
    @Option(help: "sim: simulated load speed in MB/s.") var simLoadMbps = 2000
    @OptionGroup var logging: LoggingOptions

    mutating func validate() throws {
        hub = hub ?? environment("PORTEN_HUB_URL")
        credential = credential ?? environment("PORTEN_NODE_CREDENTIAL")
        engine = engine ?? environment("PORTEN_ENGINE") ?? "sim"
        models = models ?? environment("PORTEN_ENGINE_MODELS")
        guard let hub, !hub.isEmpty else { throw ValidationError("Missing --hub (or PORTEN_HUB_URL).") }
        do { _ = try NodeAgent.tunnelURL(forHub: hub) } catch { throw ValidationError("Invalid PORTEN_HUB_URL: \(error)") }
        guard let credential, !credential.isEmpty else { throw ValidationError("Missing --credential (or PORTEN_NODE_CREDENTIAL).") }
        engineURL = engineURL ?? environment("PORTEN_ENGINE_URL")
        engineAPIKey = engineAPIKey ?? environment("PORTEN_ENGINE_API_KEY")
        switch engine {
        case "sim":
            break
        case "openai":
            guard let engineURL, let url = URL(string: engineURL), ["http", "https"].contains(url.scheme ?? "") else {
                throw ValidationError("The openai engine needs PORTEN_ENGINE_URL (or --engine-url): an http(s) URL such as http://127.0.0.1:8000/v1.")
            }
            guard !(modelList ?? []).isEmpty else {
                throw ValidationError("The openai engine needs PORTEN_ENGINE_MODELS (or --models): the model ids the upstream serves.")
            }
        case "ollama":
            engineURL = engineURL ?? OllamaEngine.defaultURL
            guard let url = URL(string: engineURL!), ["http", "https"].contains(url.scheme ?? "") else {
                throw ValidationError("PORTEN_ENGINE_URL (or --engine-url) must be an http(s) URL such as \(OllamaEngine.defaultURL).")
            }
            guard !(modelList ?? []).isEmpty else {
                throw ValidationError("The ollama engine needs PORTEN_ENGINE_MODELS (or --models): the allow-list of Ollama models to offer.")
            }
        default:
            throw ValidationError("PORTEN_ENGINE '\(engine ?? "")' is not available in this build; supported: sim, openai, ollama.")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1.") }
        guard tokenDelayMs >= 0 else { throw ValidationError("--token-delay-ms cannot be negative.") }
        vramBudgetMb = try vramBudgetMb ?? megabytes("PORTEN_VRAM_BUDGET_MB")
        autoDownloadMb = try autoDownloadMb ?? megabytes("PORTEN_AUTO_DOWNLOAD_MB")
        guard (vramBudgetMb ?? 1) > 0 else { throw ValidationError("--vram-budget-mb (PORTEN_VRAM_BUDGET_MB) must be positive.") }
        guard (autoDownloadMb ?? 1) > 0 else { throw ValidationError("--auto-download-mb (PORTEN_AUTO_DOWNLOAD_MB) must be positive.") }
        guard healthInterval > 0 else { throw ValidationError("--health-interval must be positive.") }
        guard simDownloadMbps > 0, simLoadMbps > 0 else { throw ValidationError("--sim-download-mbps and --sim-load-mbps must be positive.") }
    }

    /// `--models` / PORTEN_ENGINE_MODELS as a list; nil when not given.
    private var modelList: [String]? {
        models?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A whole number of megabytes from the environment variable `name`, or nil if unset.
    private func megabytes(_ name: String) throws -> Int? {
        guard let value = environment(name) else { return nil }
        guard let megabytes = Int(value) else { throw ValidationError("\(name) must be a whole number of megabytes; got '\(value)'.") }
        return megabytes
    }

    func run() async throws {
        let logger = logging.makeLogger("porten.node")
        let engine: any InferenceEngine
        switch self.engine {
        case "openai":
            engine = OpenAIEngine(
                baseURL: engineURL!, models: modelList ?? [], apiKey: engineAPIKey, concurrency: concurrency, vramBudgetMB: vramBudgetMb)
        case "ollama":
            engine = OllamaEngine(baseURL: engineURL!, models: modelList ?? [], concurrency: concurrency, vramBudgetMB: vramBudgetMb)
        default:
            engine = SimEngine(
                models: modelList ?? SimEngine.referenceModels, concurrency: concurrency, tokenDelay: .milliseconds(tokenDelayMs),
                provisioning: vramBudgetMb.map {
                    SimProvisioning(vramBudgetMB: $0, diskBudgetMB: autoDownloadMb ?? 200_000, downloadMBps: simDownloadMbps, loadMBps: simLoadMbps)
                })
        }
        var agent = NodeAgent(hubURL: hub!, credential: credential!, engine: engine, logger: logger)
        agent.healthInterval = .seconds(healthInterval)
        let group = ServiceGroup(
            configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch is CancellationError {
            logger.info("stopped")  // SIGTERM/SIGINT: a normal shutdown, not an error
        }
    }
}
