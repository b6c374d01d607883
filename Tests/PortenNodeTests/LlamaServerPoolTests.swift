import Foundation
import NodeProtocol
import Testing

@testable import PortenNode

/// The pool against a stand-in llama-server (a Python script answering `/health` on its
/// `--port`), so starting, port retries, crashes and stops are exercised without a model.
@Suite(.serialized)
struct LlamaServerPoolTests {
    /// A pool whose binary fails to bind its first `bindFailures` starts, then serves `/health`.
    private func pool(bindFailures: Int) throws -> (LlamaServerPool, URL) {
        let directory = try WeightsTestServer.scratchDirectory()
        let script = directory.appendingPathComponent("llama-server")
        let source = """
            #!/usr/bin/env python3
            import http.server, os, sys
            port = int(sys.argv[sys.argv.index("--port") + 1])
            counter = os.path.join(os.path.dirname(sys.argv[0]), "attempts")
            attempts = int(open(counter).read()) if os.path.exists(counter) else 0
            open(counter, "w").write(str(attempts + 1))
            if attempts < \(bindFailures):
                print(f"couldn't bind HTTP server socket, hostname: 127.0.0.1, port: {port}", flush=True)
                sys.exit(1)
            class Health(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200); self.end_headers(); self.wfile.write(b'{"status":"ok"}')
                def log_message(self, *args):
                    pass
            http.server.HTTPServer(("127.0.0.1", port), Health).serve_forever()
            """
        #expect(FileManager.default.createFile(atPath: script.path, contents: Data(source.utf8), attributes: [.posixPermissions: 0o755]))
        let pool = LlamaServerPool(
            .init(
                binary: script, extraArguments: [], logDirectory: directory.appendingPathComponent("logs"),
                runDirectory: directory.appendingPathComponent("run"), vramBudgetMB: 1000, healthTimeout: .seconds(20), stopGrace: .seconds(2)),
            client: .shared, logger: .init(label: "test"))
        return (pool, directory)
    }

    private let load = TunnelMessage.Load(model: "m", diskMB: 1, vramMB: 100)

    private func attempts(in directory: URL) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("attempts"), encoding: .utf8)
    }

    @Test func aPortTakenBeforeTheServerBindsIsRetriedOnAnother() async throws {
        let (pool, directory) = try pool(bindFailures: 2)
        try await pool.reserve(load)
        try await pool.start(load, weights: directory.appendingPathComponent("m.gguf")) {}
        #expect(try attempts(in: directory) == "3")
        let running = await pool.server(for: "m")
        #expect(await pool.states().ready == ["m"] && running?.isRunning == true)
        await pool.stopAll()
    }

    @Test func aServerThatNeverBindsFailsTheLoadWithItsLog() async throws {
        let (pool, directory) = try pool(bindFailures: 9)
        try await pool.reserve(load)
        let error = await #expect(throws: EngineError.self) { try await pool.start(self.load, weights: directory.appendingPathComponent("m.gguf")) {} }
        #expect(error?.description.contains("exited with status 1 while loading it: couldn't bind") == true)
        #expect(try attempts(in: directory) == "3")
        let (ready, starting) = await pool.states()
        let inUse = await pool.inUse()
        #expect(ready.isEmpty && starting.isEmpty && inUse.isEmpty)
    }

    @Test func aCrashIsPublishedAndAStopIsNot() async throws {
        let (pool, directory) = try pool(bindFailures: 0)
        let lost = pool.lost.subscribe()
        for model in ["crashes", "stops"] {
            let load = TunnelMessage.Load(model: model, diskMB: 1, vramMB: 100)
            try await pool.reserve(load)
            try await pool.start(load, weights: directory.appendingPathComponent("\(model).gguf")) {}
        }
        #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/stops.pid").path))
        let stopped = try #require(await pool.server(for: "stops"))
        await pool.stop("stops")
        #expect(!stopped.isRunning && stopped.exitDescription == "was killed by signal 15")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("run/stops.pid").path))
        kill(try #require(await pool.server(for: "crashes")).pid, SIGKILL)
        var iterator = lost.makeAsyncIterator()
        #expect(await iterator.next() == "crashes")
        #expect(await pool.states().ready.isEmpty)
    }
}
