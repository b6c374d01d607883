import ArgumentParser
import Foundation
import PortenConformance

@main
struct PortenConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "porten-conformance", abstract: "Replay golden OpenAI transcripts against any base URL and judge the answers strictly.",
        subcommands: [Run.self, List.self, Record.self], defaultSubcommand: Run.self)
}

/// Where the goldens are and which of them to take.
struct Selection: ParsableArguments {
    @Option(help: "Directory of golden files.") var goldens = "Golden"
    @Option(help: "Only cases whose id matches this glob (* wildcard); repeatable.") var only: [String] = []

    func load() throws -> [Golden] {
        let all = try Golden.load(from: goldens)
        guard !only.isEmpty else { return all }
        return all.filter { golden in only.contains { Glob.matches(golden.id, $0) } }
    }
}

/// The target: base URL, key, profile, model roles, fixtures.
struct TargetOptions: ParsableArguments {
    @Option(help: "Base URL of the server (http://host:port or …/v1).") var baseURL: String
    @Option(help: "API key (env OPENAI_API_KEY).") var apiKey: String?
    @Option(help: "reference, openai or llama.cpp.") var profile = "reference"
    @Option(name: .customLong("model"), help: "Map a model role to the target's id: ROLE=ID (chat, tools, reasoner, vision, embed, cold).")
    var models: [String] = []
    @Option(help: "Operator token of a Porten hub: fixtures (policy keys, a cold model) are arranged through its admin API.")
    var adminToken: String?
    @Option(name: .customLong("fixture-key"), help: "A key for a fixture made elsewhere: NAME=KEY.") var fixtureKeys: [String] = []
    @Option(help: "Per-request timeout in seconds.") var timeout = 60.0

    /// The reference profile's roles are the sim engine's models.
    static let referenceModels = [
        "chat": "ref-chat", "tools": "ref-tools", "reasoner": "ref-reasoner", "vision": "ref-vision", "embed": "ref-embed", "cold": "ref-large",
    ]

    func resolve() throws -> (Target, Profile, CurlClient, [String]) {
        guard let profile = Profile.named(profile) else {
            throw ValidationError("Unknown profile '\(self.profile)'; use one of \(Profile.all.map(\.name).joined(separator: ", ")).")
        }
        var roles = profile.name == "reference" ? Self.referenceModels : [:]
        for pair in models {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty else { throw ValidationError("--model takes ROLE=ID, got '\(pair)'.") }
            roles[parts[0]] = parts[1]
        }
        var keys: [String: String] = [:]
        for pair in fixtureKeys {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--fixture-key takes NAME=KEY, got '\(pair)'.") }
            keys[parts[0]] = parts[1]
        }
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["OPENAI_API_KEY"] else {
            throw ValidationError("Missing --api-key (or OPENAI_API_KEY).")
        }
        let client = CurlClient(timeoutMilliseconds: Int(timeout * 1000))
        var target = Target(baseURL: baseURL, apiKey: key, models: roles, fixtureKeys: keys)
        var notes: [String] = []
        if let adminToken {
            (target, notes) = try FixtureArranger(adminToken: adminToken, client: client).arrange(target)
        }
        return (target, profile, client, notes)
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the goldens against a target; exit 0 only if every case that ran passed.")
    @OptionGroup var selection: Selection
    @OptionGroup var targetOptions: TargetOptions
    @Option(help: "Write a JUnit XML report here.") var junit: String?
    @Option(help: "Write a JSON report here.") var json: String?

    func run() throws {
        let (target, profile, client, notes) = try targetOptions.resolve()
        for note in notes { print("fixture not arranged: \(note)") }
        let runner = Runner(target: target, profile: profile, client: client)
        let report = Report(profile: profile.name, target: target.root, results: try selection.load().map(runner.run))
        print(report.text)
        if let junit { try Self.write(report.junitXML, to: junit) }
        if let json { try Self.write(report.json, to: json) }
        if !report.passed { throw ExitCode(1) }
    }

    /// Writes a report, creating its directory if needed.
    private static func write(_ text: String, to path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the golden cases.")
    @OptionGroup var selection: Selection

    func run() throws {
        for golden in try selection.load() {
            let profiles = golden.profiles.isEmpty ? "all profiles" : golden.profiles.joined(separator: ",")
            let fixtures = golden.fixtures.isEmpty ? "" : "  fixtures: " + golden.fixtures.joined(separator: ",")
            print("\(golden.id)  [\(profiles)]\(fixtures)  \(golden.description)")
        }
    }
}

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the selected goldens' expectations from a target's answers, for review. Never a pass: exits 2 after writing.")
    @OptionGroup var selection: Selection
    @OptionGroup var targetOptions: TargetOptions

    func run() throws {
        let (target, _, client, _) = try targetOptions.resolve()
        let runner = Runner(target: target, profile: .reference, client: client)
        var written = 0
        for golden in try selection.load() {
            if let reason = runner.skipReason(golden) {
                print("skip \(golden.id): \(reason)")
                continue
            }
            let exchange = try client.send(try runner.request(for: golden))
            var file = try StrictJSON.parse(Array(try Data(contentsOf: URL(fileURLWithPath: golden.file)))).object ?? [:]
            file["expect"] = Recorder.expectation(for: golden, from: exchange, models: target.models)
            try (StrictJSON.pretty(.object(file)) + "\n").write(toFile: golden.file, atomically: true, encoding: .utf8)
            print("recorded \(golden.id) → \(golden.file) (status \(exchange.status))")
            written += 1
        }
        print("\(written) goldens recorded. Review them (git diff) before committing: recording never passes.")
        throw ExitCode(2)
    }
}
