import Foundation
import NodeProtocol
import Synchronization
import Testing

@testable import PortenNode

/// The pieces of the builtin engine that do not need a model: command lines, finding the binary,
/// the VRAM probe's parsing and starting and stopping a child process.
struct LlamaServerTests {
    @Test func commandLinesBindLoopbackAndFitTheModelType() {
        let chat = LlamaServerArguments.make(
            weights: "/w/m.gguf", load: .init(model: "m", diskMB: 1, vramMB: 1, modelType: "chat", ctx: 8192), port: 4000, extra: ["-ngl", "99"])
        #expect(chat == ["--model", "/w/m.gguf", "--host", "127.0.0.1", "--port", "4000", "--alias", "m", "--ctx-size", "8192", "--jinja", "-ngl", "99"])
        let embed = LlamaServerArguments.make(
            weights: "/w/e.gguf", load: .init(model: "e", diskMB: 1, vramMB: 1, modelType: "embedding"), port: 4001, extra: [])
        #expect(embed.suffix(3) == ["--embeddings", "--pooling", "mean"] && !embed.contains("--ctx-size"))
        #expect(LlamaServerArguments.reservedOption(in: ["--threads", "2", "--host=0.0.0.0"]) == "--host=0.0.0.0")
        #expect(LlamaServerArguments.reservedOption(in: ["-ngl", "99", "--api-key", "k"]) == "--api-key")
        #expect(LlamaServerArguments.reservedOption(in: ["-ngl", "99"]) == nil)
    }

    @Test(arguments: [
        ("-ngl 99  --threads 4", ["-ngl", "99", "--threads", "4"]),
        ("", []),
        (#"--chat-template "{{ a }} b" --x"#, ["--chat-template", "{{ a }} b", "--x"]),
        (#"--say 'it is \ "raw"'"#, ["--say", #"it is \ "raw""#]),
        (#"a\ b "" c"#, ["a b", "", "c"]),
        (#"--open "never closed"#, nil),
        (#"trailing\"#, nil),
    ] as [(String, [String]?)])
    func extraArgumentsSplitLikeAShell(text: String, words: [String]?) {
        #expect(LlamaServerArguments.split(text) == words)
    }

    @Test func serversGetTheirKeyButNotTheAgentsSettings() {
        let agent = ["PORTEN_NODE_CREDENTIAL": "pnode-secret", "PORTEN_ENGINE": "builtin", "PATH": "/usr/bin", "LLAMA_API_KEY": "old"]
        let environment = LlamaServerProcess.environment(apiKey: "sk-llama-1", agent: agent)
        #expect(environment == ["PATH": "/usr/bin", "LLAMA_API_KEY": "sk-llama-1"])
    }

    @Test func theBinaryComesFromTheVariableOrPath() throws {
        let directory = try WeightsTestServer.scratchDirectory()
        let binary = directory.appendingPathComponent("llama-server")
        #expect(FileManager.default.createFile(atPath: binary.path, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755]))
        #expect(try LlamaServerBinary.locate(explicit: nil, path: "/nonexistent:\(directory.path)") == binary)
        #expect(try LlamaServerBinary.locate(explicit: binary.path, path: nil) == binary)
        #expect(throws: LlamaServerBinary.NotFound.self) { try LlamaServerBinary.locate(explicit: nil, path: "/nonexistent") }
        let notExecutable = directory.appendingPathComponent("notes.txt")
        #expect(FileManager.default.createFile(atPath: notExecutable.path, contents: Data()))
        let error = #expect(throws: LlamaServerBinary.NotFound.self) { try LlamaServerBinary.locate(explicit: notExecutable.path, path: nil) }
        #expect(error?.description.contains("PORTEN_LLAMA_SERVER") == true)
    }

    @Test func loadsReserveVRAMWithinTheBudget() async throws {
        let directory = try WeightsTestServer.scratchDirectory()
        let pool = LlamaServerPool(
            .init(
                binary: URL(fileURLWithPath: "/nonexistent"), extraArguments: [], logDirectory: directory, runDirectory: directory,
                vramBudgetMB: 1000, healthTimeout: .seconds(1), stopGrace: .seconds(1)),
            client: .shared, logger: .init(label: "test"))
        func load(_ model: String, _ vramMB: Int) -> TunnelMessage.Load { .init(model: model, diskMB: 1, vramMB: vramMB) }
        try await pool.reserve(load("a", 600))
        let refused = await #expect(throws: EngineError.self) { try await pool.reserve(load("b", 500)) }
        #expect(refused?.description.contains("600 of the node's 1000 MB (PORTEN_VRAM_BUDGET_MB)") == true)
        try await pool.reserve(load("c", 400))
        #expect(await pool.states().starting == ["a", "c"])
        await pool.release("a")
        try await pool.reserve(load("b", 500))
        #expect(await pool.inUse() == ["b", "c"])
    }

    @Test func nvidiaSMIOutputIsSummedAcrossGPUs() {
        #expect(VRAMProbe.parseNvidiaSMI("24576\n24576\n") == 49152)
        #expect(VRAMProbe.parseNvidiaSMI(" 8192 \n") == 8192)
        #expect(VRAMProbe.parseNvidiaSMI("No devices were found\n") == nil)
    }

    /// How a spawned child ended, once it has.
    final class Exit: Sendable {
        let description = Mutex<String?>(nil)
        func wait() async throws -> String {
            for _ in 0..<500 {
                if let ended = description.withLock({ $0 }) { return ended }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw CancellationError()
        }
    }

    @Test func childrenStartWithNoBlockedSignalsNoInheritedFilesAndStopOnSIGTERM() async throws {
        let log = try WeightsTestServer.scratchDirectory().appendingPathComponent("child.log")
        let exit = Exit()
        let open = FileHandle(forReadingAtPath: "/dev/zero")  // a descriptor the child must not get
        defer { try? open?.close() }
        // The test runner's threads block signals; a child must not inherit that, or SIGTERM would not stop it.
        let pid = try ChildProcess.spawn(
            "/bin/sh", arguments: ["-c", "grep SigBlk /proc/self/status; ls /proc/self/fd | tr '\\n' ' '; echo; exec sleep 30"],
            environment: ["PATH": "/usr/bin:/bin"], logFile: log.path
        ) { ended in exit.description.withLock { $0 = ended } }
        try await Task.sleep(for: .milliseconds(200))
        kill(pid, SIGTERM)
        #expect(try await exit.wait() == "was killed by signal 15")
        let output = try String(contentsOf: log, encoding: .utf8)
        #expect(output.contains("SigBlk:\t0000000000000000"))
        #expect(output.contains("\n0 1 2 3 \n"), "stdin, stdout, stderr and ls's own directory only")
    }

    @Test func exitStatusesAreDescribed() async throws {
        let exit = Exit()
        _ = try ChildProcess.spawn("/bin/sh", arguments: ["-c", "exit 3"], environment: [:], logFile: "/dev/null") { ended in
            exit.description.withLock { $0 = ended }
        }
        #expect(try await exit.wait() == "exited with status 3")
        #expect(throws: ChildProcess.SpawnFailure.self) {
            try ChildProcess.spawn("/nonexistent/llama-server", arguments: [], environment: [:], logFile: "/dev/null") { _ in }
        }
    }
}
