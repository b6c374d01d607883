import Foundation
import Logging
import NIOPosix
import PortenHub
import Synchronization

/// One throwaway PostgreSQL 15 server for the whole test process (Debian's `postgresql`,
/// tools/install-deps): `initdb` into a temporary directory as the `postgres` user (via `runuser`
/// when the tests run as root), on a free loopback port, `fsync=off`. Each test gets a database of
/// its own (``database()``), so tests run in parallel. The server is stopped when the process exits.
actor PostgresTestServer {
    static let shared = PostgresTestServer()

    private var starting: Task<Int, any Error>?
    private var databases = 0

    /// The URL of a new, empty database on the shared server.
    func database() async throws -> String {
        let port = try await start()
        databases += 1
        let name = "t\(databases)_\(ProcessInfo.processInfo.processIdentifier)"
        try await Self.run(Self.binary("psql"), ["-h", "127.0.0.1", "-p", "\(port)", "-U", "porten", "-d", "postgres", "-q", "-c", "CREATE DATABASE \(name)"])
        return "postgres://porten@127.0.0.1:\(port)/\(name)"
    }

    /// The shared server's port, starting it on first use (once, however many tests ask at once).
    func start() async throws -> Int {
        if let starting { return try await starting.value }
        let task = Task { try await Self.launch() }
        starting = task
        return try await task.value
    }

    private static func launch() async throws -> Int {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("porten-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let data = directory.appendingPathComponent("data")
        if getuid() == 0 { try await Self.run(URL(fileURLWithPath: "/bin/chown"), ["-R", "postgres:postgres", directory.path]) }
        try await Self.run(
            Self.binary("initdb"), ["-D", data.path, "-U", "porten", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"], asPostgres: true)
        var lastError: (any Error)?
        for _ in 0..<3 {
            let port = try Self.freePort()
            let process = Process()
            process.executableURL = Self.wrap(try Self.binary("postgres"), asPostgres: true).0
            process.arguments = Self.wrap(
                try Self.binary("postgres"),
                arguments: [
                    "-D", data.path, "-p", "\(port)", "-k", directory.path, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
                    "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200",
                ], asPostgres: true).1
            let log = directory.appendingPathComponent("postgres-\(port).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = process.standardOutput
            try process.run()
            stopAtExit(data: data, directory: directory)
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline, process.isRunning {
                if (try? await Self.run(try Self.binary("pg_isready"), ["-h", "127.0.0.1", "-p", "\(port)", "-q"])) != nil { return port }
                try await Task.sleep(for: .milliseconds(50))
            }
            lastError = Failed(description: "postgres did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            // Only a port taken meanwhile is worth another try; the postmaster must be gone first.
            if process.isRunning { kill(process.processIdentifier, SIGQUIT) }
            process.waitUntilExit()
        }
        throw lastError!
    }

    // MARK: Processes

    /// Runs a command to its end on a thread of its own: `initdb` takes seconds, and a blocked
    /// thread of Swift's cooperative pool (two on a 2-core machine) stalls every other test's
    /// tasks meanwhile (an upstream answer then misses its deadline).
    private static func run(_ executable: URL, _ arguments: [String], asPostgres: Bool = false) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try runBlocking(executable, arguments, asPostgres: asPostgres) }) }.start()
        }
    }

    private static func runBlocking(_ executable: URL, _ arguments: [String], asPostgres: Bool) throws {
        let process = Process()
        let (binary, all) = wrap(executable, arguments: arguments, asPostgres: asPostgres)
        process.executableURL = binary
        process.arguments = all
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failed(description: "\(executable.lastPathComponent) failed: \(String(decoding: text, as: UTF8.self))")
        }
    }

    /// Root cannot run PostgreSQL: as root, commands run as `postgres` through `runuser`.
    private static func wrap(_ executable: URL, arguments: [String] = [], asPostgres: Bool) -> (URL, [String]) {
        guard asPostgres, getuid() == 0 else { return (executable, arguments) }
        return (URL(fileURLWithPath: "/usr/sbin/runuser"), ["-u", "postgres", "--", executable.path] + arguments)
    }

    private static func binary(_ name: String) throws -> URL {
        for directory in ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin", "/usr/bin"] {
            let candidate = URL(fileURLWithPath: "\(directory)/\(name)")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Failed(description: "\(name) is not installed (tools/install-deps installs postgresql)")
    }

    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress!.port!
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }
}

/// The server to stop when the test process exits (an immediate shutdown, SIGQUIT to the
/// postmaster named in its pid file), and its directory.
private let serverAtExit = Mutex<(data: String, directory: String)?>(nil)

private func stopAtExit(data: URL, directory: URL) {
    let first = serverAtExit.withLock { registered in
        defer { registered = (data.path, directory.path) }
        return registered == nil
    }
    guard first else { return }
    atexit {
        guard let (data, directory) = serverAtExit.withLock({ $0 }) else { return }
        if let text = try? String(contentsOfFile: data + "/postmaster.pid", encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int32($0) })
        {
            kill(pid, SIGQUIT)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(20_000) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
