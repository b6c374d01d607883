import EventLoopExecution
import Foundation
import ServiceLifecycle
import HummingbirdWSClient
import Logging
import NIOPosix
import NodeProtocol
import OpenAIWire

/// The node agent: keeps one WebSocket tunnel to the Hub, announces its engine's models, runs the
/// requests the Hub sends, and reconnects with backoff whenever the tunnel drops. `hubURL` may list
/// several Hub replicas, comma-separated: after a tunnel drops or a connection fails the agent
/// tries the next one at once, and backs off only once every replica has failed in a row.
public struct NodeAgent: Sendable {
    /// One Hub base URL, or several replicas' comma-separated (`http://hub-a:8080,http://hub-b:8080`).
    public var hubURL: String
    public var credential: String
    public var engine: any InferenceEngine
    public var backoff: Backoff
    public var logger: Logger
    /// Largest frame accepted from the Hub (a request body with inline images can be large).
    public var maximumFrameSize = 64 << 20
    /// How often a fixed engine's models are re-checked, so the Hub offers them only while they work.
    public var healthInterval: Duration = .seconds(10)

    public static let version = "porten-node/0.1.0"

    public init(hubURL: String, credential: String, engine: any InferenceEngine, backoff: Backoff = Backoff(), logger: Logger) {
        self.hubURL = hubURL
        self.credential = credential
        self.engine = engine
        self.backoff = backoff
        self.logger = logger
    }

    /// The tunnel endpoint for a Hub base URL (`http://host:port` → `ws://host:port/node/v1/connect`).
    public static func tunnelURL(forHub hub: String) throws -> String {
        var base = hub.trimmingCharacters(in: .whitespaces)
        while base.hasSuffix("/") { base.removeLast() }
        for (from, to) in [("http://", "ws://"), ("https://", "wss://")] where base.hasPrefix(from) {
            base = to + base.dropFirst(from.count)
        }
        guard base.hasPrefix("ws://") || base.hasPrefix("wss://") else {
            throw NodeAgentError("hub URL must start with http://, https://, ws:// or wss://, got '\(hub)'")
        }
        if base.hasSuffix("/node/v1/connect") { return base }
        return base + "/node/v1/connect"
    }

    /// The tunnel endpoints of a comma-separated list of Hub base URLs, in order.
    public static func tunnelURLs(forHubs hubs: String) throws -> [String] {
        let urls = try hubs.split(separator: ",").map { try tunnelURL(forHub: String($0)) }
        guard !urls.isEmpty else { throw NodeAgentError("no hub URL given") }
        return urls
    }

    /// Runs until the task is cancelled or the service group shuts down, reconnecting after every disconnect.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await runUntilCancelled() }
    }

    private func runUntilCancelled() async throws {
        let urls = try Self.tunnelURLs(forHubs: hubURL)
        var backoff = self.backoff
        let clock = ContinuousClock()
        // Agents spread over the replicas instead of all starting on the first.
        var index = Int.random(in: 0..<urls.count)
        /// Tunnels that failed or ended early since the last one that lasted.
        var failedInARow = 0
        while !Task.isCancelled {
            let url = urls[index]
            let started = clock.now
            do {
                try await connectOnce(url: url)
                if Task.isCancelled { return }  // the agent is stopping: it closed the tunnel itself
                logger.warning("tunnel closed by the hub", metadata: ["hub": .string(url)])
            } catch is CancellationError {
                return
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                logger.error("the hub refused the tunnel: the node credential is unknown or revoked (PORTEN_NODE_CREDENTIAL), or \(url) is not a Porten Hub")
            } catch {
                logger.warning("tunnel failed: \(error)", metadata: ["hub": .string(url)])
            }
            let lasted = clock.now - started
            failedInARow = lasted >= backoff.resetAfter ? 1 : failedInARow + 1
            var delay = backoff.nextDelay(afterSessionLasting: lasted)
            if urls.count > 1 {
                // The replica that dropped the tunnel may be going away: the next one, at once,
                // until every replica has failed in a row.
                index = (index + 1) % urls.count
                if failedInARow < urls.count { delay = min(delay, backoff.initial) }
            }
            logger.info("reconnecting in \(delay)", metadata: urls.count > 1 ? ["hub": .string(urls[index])] : [:])
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    private func connectOnce(url: String) async throws {
        var configuration = WebSocketClientConfiguration(maxFrameSize: maximumFrameSize)
        configuration.additionalHeaders[.authorization] = "Bearer \(credential)"
        configuration.autoPing = .enabled(timePeriod: .seconds(15))
        let session = TunnelSession(engine: engine, logger: logger, maximumFrameSize: maximumFrameSize, healthInterval: healthInterval)
        // The tunnel and the tasks of its requests share one event loop (and the upstream
        // connections they open land on it too): see ``EventLoopExecutor``.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await withTaskExecutorPreference(EventLoopExecutor(loop)) {
            _ = try await WebSocketClient.connect(url: url, configuration: configuration, eventLoopGroup: loop, logger: logger) { inbound, outbound, _ in
                try await session.run(inbound: inbound, outbound: outbound)
            }
        }
    }
}

/// A configuration or connection problem of the node agent, with a message for the operator.
public struct NodeAgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension NodeAgent: Service {}
