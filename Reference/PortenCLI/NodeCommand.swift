import ArgumentParser
import Foundation
import Logging
import PortenNode
import ServiceLifecycle

/// `porten node`: the node agent.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Run a node agent connected to a Hub.")

    @Option(help: "Hub URL, e.g. http://127.0.0.1:8080, or several replicas comma-separated: the agent moves to the next when one drops it (env PORTEN_HUB_URL).")
    var hub: String?
    @Option(help: "The node credential the operator issued. Prefer PORTEN_NODE_CREDENTIAL or --credential-file: other users can read command lines in ps.")
    var credential: String?
    @Option(help: "A file holding the node credential (env PORTEN_NODE_CREDENTIAL_FILE), e.g. one only the agent's user can read.")
    var credentialFile: String?
    @Option(help: "Engine: builtin, ollama, openai or sim (env PORTEN_ENGINE); default: ollama when one answers at PORTEN_ENGINE_URL or 127.0.0.1:11434, else builtin.")
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
    @Option(help: "Disk in MB for cached weights (env PORTEN_AUTO_DOWNLOAD_MB; default 200000).") var autoDownloadMb: Int?
    @Option(help: "builtin: the llama-server executable (env PORTEN_LLAMA_SERVER; default: llama-server on PATH).")
    var llamaServer: String?
    @Option(help: "builtin: extra llama-server arguments, split like shell words, e.g. '--n-gpu-layers 99' (env PORTEN_LLAMA_ARGS).")
    var llamaArgs: String?
    @Option(help: "builtin: the weights cache directory (env PORTEN_WEIGHTS_DIR; default ~/.cache/porten/weights).")
    var weightsDir: String?
    @Option(help: "Seconds between checks that a fixed engine's models still work (openai: the upstream answers).")
    var healthInterval = 10.0
    @Option(help: "sim: simulated download speed in MB/s.") var simDownloadMbps = 1000
    @Option(help: "sim: simulated load speed in MB/s.") var simLoadMbps = 2000
    @Option(help: "sim: milliseconds an unload takes before the VRAM is free (a real server's stop).") var simUnloadMs = 0
    @OptionGroup var logging: LoggingOptions

    mutating func validate() throws {
        // Flags, then PORTEN_* variables, then what porten login / enroll saved (node.json).
        let saved = try NodeConfigFile.load()
        hub = hub ?? environment("PORTEN_HUB_URL") ?? saved?.hubURL
        credential = try credential ?? environment("PORTEN_NODE_CREDENTIAL")
            ?? Self.readCredential(credentialFile ?? environment("PORTEN_NODE_CREDENTIAL_FILE")) ?? saved?.credential
        models = models ?? environment("PORTEN_ENGINE_MODELS") ?? saved?.engineModels
        engineURL = engineURL ?? environment("PORTEN_ENGINE_URL") ?? saved?.engineURL
        engine = engine ?? environment("PORTEN_ENGINE") ?? saved?.engine ?? EngineChoice.automatic(ollamaURL: engineURL ?? OllamaEngine.defaultURL)
        vramBudgetMb = vramBudgetMb ?? (environment("PORTEN_VRAM_BUDGET_MB") == nil ? saved?.vramBudgetMB : nil)
        autoDownloadMb = autoDownloadMb ?? (environment("PORTEN_AUTO_DOWNLOAD_MB") == nil ? saved?.autoDownloadMB : nil)
        guard let hub, !hub.isEmpty else { throw ValidationError("Missing --hub (or PORTEN_HUB_URL), and no node.json: run porten login first.") }
        do { _ = try NodeAgent.tunnelURLs(forHubs: hub) } catch { throw ValidationError("Invalid PORTEN_HUB_URL: \(error)") }
        guard let credential, !credential.isEmpty else {
            throw ValidationError(
                "Missing the node credential: run porten login (or porten enroll <token>), set PORTEN_NODE_CREDENTIAL, or pass --credential-file.")
        }
        engineAPIKey = engineAPIKey ?? environment("PORTEN_ENGINE_API_KEY") ?? saved?.engineAPIKey
        switch engine {
        case "sim":
            break
        case "builtin":
            try validateBuiltin()
        case "openai":
            try validateUpstream(example: "http://127.0.0.1:8000/v1", models: "the model ids the upstream serves")
        case "ollama":
            engineURL = engineURL ?? OllamaEngine.defaultURL
            try validateUpstream(example: OllamaEngine.defaultURL, models: "the allow-list of Ollama models to offer")
        default:
            throw ValidationError("PORTEN_ENGINE '\(engine ?? "")' is not an engine; supported: builtin, ollama, openai, sim.")
        }
        guard (1...4096).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 4096.") }
        guard tokenDelayMs >= 0 else { throw ValidationError("--token-delay-ms cannot be negative.") }
        vramBudgetMb = try vramBudgetMb ?? megabytes("PORTEN_VRAM_BUDGET_MB")
        autoDownloadMb = try autoDownloadMb ?? megabytes("PORTEN_AUTO_DOWNLOAD_MB")
        guard (vramBudgetMb ?? 1) > 0 else { throw ValidationError("--vram-budget-mb (PORTEN_VRAM_BUDGET_MB) must be positive.") }
        guard (autoDownloadMb ?? 1) > 0 else { throw ValidationError("--auto-download-mb (PORTEN_AUTO_DOWNLOAD_MB) must be positive.") }
        guard healthInterval > 0, healthInterval <= 86_400 else { throw ValidationError("--health-interval must be more than 0 and at most 86400 seconds.") }
        guard tokenDelayMs <= 60_000 else { throw ValidationError("--token-delay-ms must be at most 60000.") }
        guard simDownloadMbps > 0, simLoadMbps > 0 else { throw ValidationError("--sim-download-mbps and --sim-load-mbps must be positive.") }
        guard (0...60_000).contains(simUnloadMs) else { throw ValidationError("--sim-unload-ms must be 0 to 60000.") }
    }

    /// The credential stored in `path` (surrounding whitespace dropped); nil without a path.
    private static func readCredential(_ path: String?) throws -> String? {
        guard let path else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("Cannot read the credential file \(path).") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A fixed engine's settings: an http(s) upstream URL and the models to offer.
    private func validateUpstream(example: String, models meaning: String) throws {
        let engine = self.engine ?? ""
        guard let engineURL, let url = URL(string: engineURL), ["http", "https"].contains(url.scheme ?? "") else {
            throw ValidationError("The \(engine) engine needs PORTEN_ENGINE_URL (or --engine-url): an http(s) URL such as \(example).")
        }
        guard !(modelList ?? []).isEmpty else {
            throw ValidationError("The \(engine) engine needs PORTEN_ENGINE_MODELS (or --models): \(meaning).")
        }
    }

    /// The builtin engine's settings: a llama-server that exists, arguments that leave the host,
    /// port and key to the node, a weights directory.
    private mutating func validateBuiltin() throws {
        llamaServer = llamaServer ?? environment("PORTEN_LLAMA_SERVER")
        do {
            llamaServer = try LlamaServerBinary.locate(explicit: llamaServer, path: environment("PATH")).path
        } catch {
            throw ValidationError(error.description)
        }
        llamaArgs = llamaArgs ?? environment("PORTEN_LLAMA_ARGS")
        guard LlamaServerArguments.split(llamaArgs ?? "") != nil else {
            throw ValidationError("PORTEN_LLAMA_ARGS (--llama-args) leaves a quote or a backslash open: \(llamaArgs ?? "")")
        }
        if let reserved = LlamaServerArguments.reservedOption(in: llamaArgumentList) {
            throw ValidationError("PORTEN_LLAMA_ARGS (--llama-args) may not contain \(reserved): the node sets it for each llama-server.")
        }
        weightsDir = weightsDir ?? environment("PORTEN_WEIGHTS_DIR") ?? Self.defaultWeightsDirectory
    }

    /// `--llama-args` / PORTEN_LLAMA_ARGS split into words (validated to split).
    private var llamaArgumentList: [String] {
        LlamaServerArguments.split(llamaArgs ?? "") ?? []
    }

    /// PORTEN_AUTO_DOWNLOAD_MB when unset, as the seed's example sets it.
    private static let defaultDiskBudgetMB = 200_000

    /// `$XDG_CACHE_HOME/porten/weights`, else `~/.cache/porten/weights`.
    private static var defaultWeightsDirectory: String {
        let cache = environment("XDG_CACHE_HOME") ?? (homeDirectory() + "/.cache")
        return cache + "/porten/weights"
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
        case "builtin":
            let vram = vramBudgetMb ?? {
                let found = VRAMProbe.detect(path: environment("PATH"))
                logger.info("VRAM budget \(found.megabytes) MB from \(found.source); set PORTEN_VRAM_BUDGET_MB to change it")
                return found.megabytes
            }()
            engine = BuiltinEngine(
                .init(
                    llamaServer: URL(fileURLWithPath: llamaServer!), llamaArguments: llamaArgumentList,
                    weightsDirectory: URL(fileURLWithPath: weightsDir!), vramBudgetMB: vram, diskBudgetMB: autoDownloadMb ?? Self.defaultDiskBudgetMB,
                    concurrency: concurrency), logger: logger)
        default:
            engine = SimEngine(
                models: modelList ?? SimEngine.referenceModels, concurrency: concurrency, tokenDelay: .milliseconds(tokenDelayMs),
                provisioning: vramBudgetMb.map {
                    SimProvisioning(
                        vramBudgetMB: $0, diskBudgetMB: autoDownloadMb ?? Self.defaultDiskBudgetMB, downloadMBps: simDownloadMbps,
                        loadMBps: simLoadMbps, unloadTime: .milliseconds(simUnloadMs))
                })
        }
        var agent = NodeAgent(hubURL: hub!, credential: credential!, engine: engine, logger: logger)
        agent.healthInterval = .seconds(healthInterval)
        let group = ServiceGroup(
            configuration: .init(services: [agent], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch is CancellationError {
            // SIGTERM/SIGINT: a normal shutdown, not an error
        } catch {
            await engine.shutdown()
            throw error
        }
        await engine.shutdown()
        logger.info("stopped")
    }
}
