import ArgumentParser
import Foundation
import PortenConformance
import PortenGoldens

@main
struct PortenConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "porten-conformance", abstract: "Replay golden OpenAI transcripts against any base URL and judge the answers strictly.",
        subcommands: [Run.self, List.self, Record.self], defaultSubcommand: Run.self)
}

/// Where the goldens are and which of them to take.
struct Selection: ParsableArguments {
    @Option(help: "Directory of golden files (default: $PORTEN_CONFORMANCE_GOLDENS, else the goldens shipped with this binary).")
    var goldens: String?
    @Option(help: "Only cases whose id matches this glob (* wildcard); repeatable.") var only: [String] = []
    @Option(help: "Leave out cases whose id matches this glob; repeatable.") var skip: [String] = []

    /// The selected goldens; selecting none is an error (exit 2), never an empty pass.
    func load() throws -> [Golden] {
        guard let directory = goldens ?? ProcessInfo.processInfo.environment["PORTEN_CONFORMANCE_GOLDENS"] ?? BundledGoldens.directory else {
            throw UsageError("No goldens found: this binary has no \(BundledGoldens.bundleName).resources beside it. Pass --goldens DIR.")
        }
        let all = try Golden.load(from: directory)
        guard !all.isEmpty else { throw UsageError("No golden files (*.json) under '\(directory)'.") }
        let selected = (only.isEmpty ? all : all.filter { golden in only.contains { Glob.matches(golden.id, $0) } })
            .filter { golden in !skip.contains { Glob.matches(golden.id, $0) } }
        guard !selected.isEmpty else {
            let filters = only.map { "--only '\($0)'" } + skip.map { "--skip '\($0)'" }
            throw UsageError("No golden matches \(filters.joined(separator: " ")) (\(all.count) goldens in \(directory); see 'porten-conformance list').")
        }
        return selected
    }
}

/// A mistake in how the suite was invoked: the message, then exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ParsableCommand {
    /// Runs `body`, turning a `UsageError` or a golden format error into a message and exit 2.
    func usage<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as UsageError {
            FileHandle.standardError.write(Data("porten-conformance: \(error)\n".utf8))
            throw ExitCode(2)
        } catch let error as Golden.FormatError {
            FileHandle.standardError.write(Data("porten-conformance: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}

/// The target: base URL, key, profile, model roles, fixtures.
struct TargetOptions: ParsableArguments {
    @Option(help: "Base URL of the server (http://host:port or …/v1).") var baseURL: String
    @Option(help: "API key (env OPENAI_API_KEY).") var apiKey: String?
    @Option(help: "openai (any OpenAI-compatible server), llama.cpp (llama-server, its divergences declared) or reference (a Porten hub with sim nodes: exact).")
    var profile = "openai"
    @Option(help: "Where reasoning text may arrive: reasoning_content, reasoning, or any (default: the profile's choice).")
    var reasoningField: String?
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
        guard var profile = Profile.named(profile) else {
            throw ValidationError("Unknown profile '\(self.profile)'; use one of \(Profile.all.map(\.name).joined(separator: ", ")).")
        }
        switch reasoningField {
        case nil: break
        case "any": profile.reasoningFields = ["reasoning_content", "reasoning"]
        case let field? where ["reasoning_content", "reasoning"].contains(field): profile.reasoningFields = [field]
        case let field?: throw ValidationError("--reasoning-field takes reasoning_content, reasoning or any, got '\(field)'.")
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
    @Flag(help: "Warnings (additive fields, SSE variants the SDKs tolerate) fail the run too.") var strict = false

    func run() throws {
        let goldens = try usage { try selection.load() }
        let (target, profile, client, notes) = try targetOptions.resolve()
        for note in notes { print("fixture not arranged: \(note)") }
        let runner = Runner(target: target, profile: profile, client: client)
        let report = Report(profile: profile.name, target: target.root, results: goldens.map(runner.run), strict: strict)
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
        for golden in try usage({ try selection.load() }) {
            let profiles = golden.profiles.isEmpty ? "all profiles" : golden.profiles.joined(separator: ",")
            let fixtures = golden.fixtures.isEmpty ? "" : "  fixtures: " + golden.fixtures.joined(separator: ",")
            print("\(golden.id)  [\(profiles)]\(fixtures)  \(golden.description)  (source: \(golden.source))")
        }
    }
}

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rewrite the selected goldens' expectations from a target's answers, for review. Never a pass: exits 2 after writing.")
    @OptionGroup var selection: Selection
    @OptionGroup var targetOptions: TargetOptions

    func run() throws {
        let goldens = try usage {
            guard selection.goldens != nil else { throw UsageError("record rewrites golden files: name them with --goldens DIR (the repository's Golden).") }
            return try selection.load()
        }
        let (target, _, client, _) = try targetOptions.resolve()
        let runner = Runner(target: target, profile: .reference, client: client)
        var written = 0
        for golden in goldens {
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
