import Foundation
import Logging
import NIOCore
import NIOPosix
import PortenRedis
import Synchronization
import Testing

/// A throwaway redis-server (Debian's `redis-server`, tools/install-deps) on a free loopback port,
/// in a temporary directory, saving nothing. Each test starts its own, so tests run in parallel.
final class RedisTestServer: Sendable {
    let port: Int
    let directory: URL
    private let extraArguments: [String]
    private let password: String?
    private let process = Mutex<Process?>(nil)

    private init(port: Int, directory: URL, extraArguments: [String], password: String?) {
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
        self.password = password
    }

    /// Runs `body` with a fresh server, killed and removed afterwards. `password` sets requirepass.
    static func with<T>(
        password: String? = nil, arguments: [String] = [], _ body: (RedisTestServer) async throws -> T
    ) async throws -> T {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("porten-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var extra = arguments
        if let password { extra += ["--requirepass", password] }
        // A free port can be taken by another test between the probe and the bind: try a few.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let server = RedisTestServer(port: try freePort(), directory: directory, extraArguments: extra, password: password)
            do {
                try await server.start()
            } catch {
                lastError = error
                server.kill()
                continue
            }
            defer { server.kill() }
            return try await body(server)
        }
        throw lastError!
    }

    var url: String {
        "redis://\(password.map { ":\($0)@" } ?? "")127.0.0.1:\(port)"
    }

    /// Starts redis-server on this server's port and waits until it answers PING.
    func start() async throws {
        let process = Process()
        process.executableURL = try Self.binary()
        process.arguments =
            [
                "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", directory.path, "--daemonize", "no", "--logfile", directory.appendingPathComponent("redis.log").path,
            ] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process.withLock { $0 = process }
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port, password: password)
        configuration.connectTimeout = .milliseconds(500)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw Failed(description: "redis-server exited: \(log)") }
            if let connection = try? await RedisConnection.connect(configuration) {
                connection.close()
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failed(description: "redis-server did not answer PING within 10 s: \(log)")
    }

    /// Kills the server with SIGKILL, as a crash would, and waits until it is gone.
    func kill() {
        guard let process = process.withLock({ $0.take() }) else { return }
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func signal(_ signal: Int32) {
        process.withLock { process in
            if let process { _ = Foundation.kill(process.processIdentifier, signal) }
        }
    }

    private var log: String {
        (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8))?.suffix(2000).description ?? "(no log)"
    }

    private static func binary() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") + ["/usr/bin", "/usr/sbin"] {
            let candidate = URL(fileURLWithPath: "\(directory)/redis-server")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw Failed(description: "redis-server is not installed (tools/install-deps installs it)")
    }

    /// A port nothing listens on right now.
    private static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        return channel.localAddress!.port!
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }
}

/// Test settings: short timeouts and reconnect delays, no log output.
func testConfiguration(_ server: RedisTestServer, _ adjust: (inout RedisConfiguration) -> Void = { _ in }) throws -> RedisConfiguration {
    var configuration = try RedisConfiguration(url: server.url)
    configuration.commandTimeout = .seconds(5)
    configuration.connectTimeout = .seconds(2)
    configuration.reconnectDelay = .milliseconds(20)
    configuration.maxReconnectDelay = .milliseconds(200)
    adjust(&configuration)
    return configuration
}

let quietLogger = Logger(label: "porten-redis-tests") { _ in SwiftLogNoOpLogHandler() }

/// Runs `body` with a client whose ``RedisClient/run()`` runs beside it, then shuts it down. Unless
/// `connected` is false, `body` starts once both connections are up: on a loaded machine (the whole
/// suite runs in parallel on 2 cores) the first connection can take longer than a command timeout.
func withClient<T: Sendable>(
    _ configuration: RedisConfiguration, connected: Bool = true, _ body: (RedisClient) async throws -> T
) async throws -> T {
    let client = RedisClient(configuration: configuration, logger: quietLogger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        defer { client.shutdown() }
        if connected {
            let up = await eventually(within: .seconds(20)) { client.isConnected && client.isSubscriberConnected }
            try #require(up, "the client did not connect to \(configuration.endpoint) within 20 s")
        }
        return try await body(client)
    }
}

/// Polls `condition` until it holds or `limit` passes; whether it held.
func eventually(within limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The next `count` messages of `stream`, or fewer if `limit` passes first.
func next(_ count: Int, of stream: AsyncStream<RedisMessage>, within limit: Duration = .seconds(10)) async -> [RedisMessage] {
    await withTaskGroup(of: [RedisMessage]?.self) { group in
        group.addTask {
            var messages: [RedisMessage] = []
            for await message in stream {
                messages.append(message)
                if messages.count == count { break }
            }
            return messages
        }
        group.addTask {
            try? await Task.sleep(for: limit)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? []
    }
}

extension RedisMessage {
    init(_ channel: String, _ payload: String) {
        self.init(channel: channel, payload: ByteBuffer(string: payload))
    }
}

/// Whether the server stopped answering `probe` (a `DEBUG SLEEP` began): two PINGs in a row
/// without an answer within a second each. A loaded machine may miss one, not two; an earlier
/// PING's late answer starts the count again. Closes `probe`.
func serverIsAsleep(_ probe: RedisConnection) async -> Bool {
    var misses = 0
    let asleep = await eventually(within: .seconds(20)) {
        do {
            _ = try await probe.send(["PING"], timeout: .seconds(1))
            misses = 0
            return false
        } catch {
            misses += 1
            return misses >= 2
        }
    }
    probe.close()
    return asleep
}

