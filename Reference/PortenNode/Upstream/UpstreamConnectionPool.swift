import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Keep-alive HTTP/1.1 connections to one plain-HTTP upstream (the llama-server the builtin engine
/// runs, a vLLM or Ollama on the node's network). Each request is written with one flush and its
/// answer read as it arrives, with backpressure; a connection whose answer ended goes back to the
/// pool for the next request. A request on a reused connection that the server closed before
/// answering (its keep-alive timeout) is sent again on a new one.
///
/// What AsyncHTTPClient does per request (URL parsing, tracing, its pool's state machines,
/// a flush per request part) was most of a node's cost for a short answer; HTTPS upstreams still
/// use it (``UpstreamHTTP``).
final class UpstreamConnectionPool: Sendable {
    let host: String
    let port: Int
    private let group: any EventLoopGroup
    /// Idle connections kept at most; more are closed when their answers end.
    let maximumIdle: Int
    let connectTimeout: TimeAmount
    private let state = Mutex(State())

    private struct State {
        var idle: [UpstreamConnection] = []
        var nextID = 0
        var shutDown = false
    }

    init(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, maximumIdle: Int = 64, connectTimeout: TimeAmount = .seconds(10)) {
        self.host = host
        self.port = port
        self.group = group
        self.maximumIdle = maximumIdle
        self.connectTimeout = connectTimeout
    }

    /// Sends `head` (and `body`) and returns once the answer's head arrived.
    func execute(_ head: HTTPRequestHead, body: ByteBuffer?, timeout: TimeAmount) async throws -> UpstreamResponse {
        let deadline = NIODeadline.now() + timeout
        var head = head
        let authority = host.contains(":") ? "[\(host)]" : host
        head.headers.replaceOrAdd(name: "Host", value: port == 80 ? authority : "\(authority):\(port)")
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body?.readableBytes ?? 0))
        try Task.checkCancellation()
        if let connection = try takeIdle() {
            do {
                return try await connection.send(id: nextID(), head, body: body, deadline: deadline)
            } catch let error as UpstreamConnectionClosed where error.stale {
                // The server dropped the idle connection as the request went out: once more, on a new one.
                try Task.checkCancellation()
            }
        }
        let connection = try await UpstreamConnection.connect(
            host: host, port: port, group: group, timeout: min(connectTimeout, timeout)
        ) { [weak self] connection in
            if let self { self.giveBack(connection) } else { connection.close() }
        }
        return try await connection.send(id: nextID(), head, body: body, deadline: deadline)
    }

    /// Closes the idle connections; connections in use close when their answers end.
    func shutdown() {
        let idle = state.withLock { state in
            state.shutDown = true
            defer { state.idle.removeAll() }
            return state.idle
        }
        for connection in idle { connection.close() }
    }

    /// Idle connections now (for tests).
    var idleCount: Int { state.withLock { $0.idle.count } }

    /// The most recently used idle connection that is still open; throws once the pool is shut down.
    private func takeIdle() throws -> UpstreamConnection? {
        while true {
            let (connection, shutDown) = state.withLock { ($0.idle.popLast(), $0.shutDown) }
            if shutDown { throw UpstreamPoolShutDown() }
            guard let connection else { return nil }
            if connection.channel.isActive { return connection }
        }
    }

    private func nextID() -> Int {
        state.withLock { state in
            state.nextID &+= 1
            return state.nextID
        }
    }

    private func giveBack(_ connection: UpstreamConnection) {
        let kept = state.withLock { state in
            guard !state.shutDown, state.idle.count < maximumIdle else { return false }
            state.idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    deinit {
        for connection in state.withLock({ $0.idle }) { connection.close() }
    }
}

struct UpstreamPoolShutDown: Error, CustomStringConvertible {
    var description: String { "the upstream's connections were shut down (its server stopped)" }
}
