import ArgumentParser
import Foundation

/// `porten service install|uninstall|status`: runs `porten node` in the background — a
/// `systemd --user` unit on Linux, a launchd agent on macOS — with the `PORTEN_*` variables of
/// the installing shell baked in (the credential stays in node.json, never in the unit).
struct ServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service", abstract: "Run the node agent as a background service.", subcommands: [Install.self, Uninstall.self, Status.self])

    enum Platform: String, ExpressibleByArgument, CaseIterable {
        case linux, macos
        static var current: Platform {
            #if os(macOS)
            .macos
            #else
            .linux
            #endif
        }
    }

    struct Install: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the service file and start the agent.")
        @Flag(help: "Print the service file and where it would go; change nothing.") var dryRun = false
        @Option(help: "linux (systemd --user) or macos (launchd); default: this machine's.") var platform: Platform = .current

        func run() async throws {
            try moveCredentialIntoConfig()
            let unit = ServiceUnit(executable: ServiceUnit.currentExecutable, environment: ServiceUnit.bakedEnvironment())
            let (path, text) = platform == .linux ? (ServiceUnit.systemdPath, try unit.systemd()) : (ServiceUnit.launchdPath, try unit.launchd())
            if dryRun {
                Console.write("# \(path)\n" + text)
                return
            }
            guard try NodeConfigFile.load()?.credential != nil else {
                throw LoginFailure("This machine has no node credential yet: run porten login (or porten enroll <token>) first.")
            }
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try PrivateFile.write(Data(text.utf8), to: path)
            Console.write("Wrote \(path).")
            switch platform {
            case .linux:
                try ServiceUnit.run("systemctl", "--user", "daemon-reload")
                try ServiceUnit.run("systemctl", "--user", "enable", "--now", ServiceUnit.systemdName)
                Console.write(
                    "Started \(ServiceUnit.systemdName). Logs: journalctl --user -u \(ServiceUnit.systemdName) -f\n"
                        + "To keep it running without a login session: loginctl enable-linger \(NSUserName())")
            case .macos:
                try ServiceUnit.run("launchctl", "bootstrap", "gui/\(getuid())", path)
                Console.write("Started \(ServiceUnit.launchdLabel). Logs: ~/Library/Logs/porten-node.log")
            }
        }

        /// Secrets given through the environment (the credential, the engine's API key, an engine
        /// URL with a password in it) go into node.json (0600), not into the service file.
        private func moveCredentialIntoConfig() throws {
            guard !dryRun else { return }
            var config = try NodeConfigFile.load() ?? NodeConfigFile()
            let before = config
            if config.credential == nil, let credential = environment("PORTEN_NODE_CREDENTIAL") {
                config.credential = credential
                config.hubURL = config.hubURL ?? environment("PORTEN_HUB_URL")
            }
            if let key = environment("PORTEN_ENGINE_API_KEY") { config.engineAPIKey = key }
            if let url = environment("PORTEN_ENGINE_URL"), ServiceUnit.hasUserInfo(url) { config.engineURL = url }
            if config != before { try config.save() }
        }
    }

    struct Uninstall: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the agent and remove the service file (node.json stays).")
        @Option(help: "linux or macos; default: this machine's.") var platform: Platform = .current

        func run() async throws {
            switch platform {
            case .linux:
                try? ServiceUnit.run("systemctl", "--user", "disable", "--now", ServiceUnit.systemdName)
                try? FileManager.default.removeItem(atPath: ServiceUnit.systemdPath)
                try? ServiceUnit.run("systemctl", "--user", "daemon-reload")
            case .macos:
                try? ServiceUnit.run("launchctl", "bootout", "gui/\(getuid())/\(ServiceUnit.launchdLabel)")
                try? FileManager.default.removeItem(atPath: ServiceUnit.launchdPath)
            }
            Console.write("Removed the porten node service.")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show whether the service runs.")
        @Option(help: "linux or macos; default: this machine's.") var platform: Platform = .current

        func run() async throws {
            switch platform {
            case .linux: try ServiceUnit.run("systemctl", "--user", "--no-pager", "status", ServiceUnit.systemdName)
            case .macos: try ServiceUnit.run("launchctl", "print", "gui/\(getuid())/\(ServiceUnit.launchdLabel)")
            }
        }
    }
}
