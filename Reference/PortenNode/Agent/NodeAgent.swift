import Foundation
import ServiceLifecycle
import HummingbirdWSClient
import Logging
import NodeProtocol
import OpenAIWire

/// The node agent: keeps one WebSocket tunnel to the Hub, announces its engine's models, runs the
/// requests the Hub sends, and reconnects with backoff whenever the tunnel drops.
public struct NodeAgent: Sendable {
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

    /// Runs until the task is cancelled or the service group shuts down, reconnecting after every disconnect.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { try await runUntilCancelled() }
    }

    private func runUntilCancelled() async throws {
        let url = try Self.tunnelURL(forHub: hubURL)
        var backoff = self.backoff
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let started = clock.now
            do {
                try await connectOnce(url: url)
                if Task.isCancelled { return }  // the agent is stopping: it closed the tunnel itself
                logger.warning("tunnel closed by the hub")
            } catch is CancellationError {
                return
            } catch let error as WebSocketClientError where error == .webSocketUpgradeFailed {
                logger.error("the hub refused the tunnel: the node credential is unknown or revoked (PORTEN_NODE_CREDENTIAL), or \(url) is not a Porten Hub")
            } catch {
                logger.warning("tunnel failed: \(error)")
            }
            let delay = backoff.nextDelay(afterSessionLasting: clock.now - started)
            logger.info("reconnecting in \(delay)")
            do { try await Task.sleep(for: delay) } catch { return }
        }
    }

    private func connectOnce(url: String) async throws {
        var configuration = WebSocketClientConfiguration(maxFrameSize: maximumFrameSize)
        configuration.additionalHeaders[.authorization] = "Bearer \(credential)"
        configuration.autoPing = .enabled(timePeriod: .seconds(15))
        let session = TunnelSession(engine: engine, logger: logger, maximumFrameSize: maximumFrameSize, healthInterval: healthInterval)
        try await WebSocketClient.connect(url: url, configuration: configuration, logger: logger) { inbound, outbound, _ in
            try await session.run(inbound: inbound, outbound: outbound)
        }
    }
}

/// A configuration or connection problem of the node agent, with a message for the operator.
public struct NodeAgentError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension NodeAgent: Service {}
