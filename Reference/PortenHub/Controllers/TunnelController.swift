import EventLoopExecution
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NodeProtocol
import OpenAIWire

/// `/node/v1/connect`: the node tunnel. A node authenticates with its credential at the upgrade,
/// says hello, is welcomed with its operator-assigned attributes, then streams answers.
struct TunnelController: Sendable {
    let services: HubServices

    /// Upgrades only requests with a live node credential (`NodeCredentialMiddleware` on the
    /// WebSocket router); everything else falls through to the plain HTTP route below, which
    /// explains the refusal.
    func addWebSocketRoute(to router: Router<HubRequestContext>) {
        router.group().add(middleware: NodeCredentialMiddleware(store: services.store)).ws("/node/v1/connect") { _, context in
            context.node == nil ? .dontUpgrade : .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            guard let node = context.requestContext.node else { return }
            var logger = context.logger
            logger[metadataKey: "node"] = .string(node.record.id)
            let socket = TunnelSocket(outbound: outbound, channel: context.requestContext.channel, logger: logger)
            guard let ticket = services.tunnelSockets.add(nodeID: node.record.id, socket: socket) else {
                try await outbound.close(.policyViolation, reason: "too many connections for this node")
                return
            }
            defer { services.tunnelSockets.remove(ticket) }
            // The tunnel's frames are read and routed on its own event loop (see ``EventLoopExecutor``).
            try await withTaskExecutorPreference(EventLoopExecutor(socket.channel.eventLoop)) {
                try await serve(credential: node.credential, ticket: ticket, inbound: inbound, socket: socket, logger: logger)
            }
        }
    }

    /// The tunnel's path without an upgrade: 401 without a live credential
    /// (`NodeCredentialMiddleware`), else 400.
    func addRefusal(to router: Router<HubRequestContext>) {
        router.group().add(middleware: NodeCredentialMiddleware(store: services.store)).get("/node/v1/connect") { _, _ -> Response in
            throw APIError.invalidRequest("This endpoint expects a WebSocket upgrade.")
        }
    }

    /// The node's first frame, or nil when it sends none within `timeout` (the socket is then
    /// closed, so a connection that upgrades and stays silent holds nothing for long).
    private static func firstFrame(
        of messages: inout WebSocketInboundMessageStream.AsyncIterator, within timeout: Duration, closing outbound: WebSocketOutboundWriter
    ) async throws -> WebSocketMessage? {
        // Leaving this scope cancels the watchdog if the frame came first.
        async let _: Void = close(outbound, after: timeout)
        return try await messages.next()
    }

    /// Closes the socket after `timeout` unless cancelled first.
    private static func close(_ outbound: WebSocketOutboundWriter, after timeout: Duration) async {
        do { try await Task.sleep(for: timeout) } catch { return }
        try? await outbound.close(.policyViolation, reason: "no hello within \(timeout)")
    }

    /// Frames up to this size (deltas, ends, load progress) are decoded on the tunnel's event loop.
    static let onLoopFrameSize = 64 << 10

    /// One frame from the node; a larger one than ``onLoopFrameSize`` (embedding vectors, a long
    /// hello) is decoded off the tunnel's event loop, so the other channels on that loop are not
    /// held up while it is.
    private static func decode(_ text: String) async throws(TunnelMessage.InvalidFrame) -> TunnelMessage {
        guard text.utf8.count > onLoopFrameSize else { return try TunnelMessage.fromNode(text: text) }
        return try await withTaskExecutorPreference(globalConcurrentExecutor) {
            Result { () throws(TunnelMessage.InvalidFrame) in try TunnelMessage.fromNode(text: text) }
        }.get()
    }

    /// Runs one tunnel. The credential is checked again when the hello arrives, and the node's
    /// record (region, trust class, account) read then: a socket that upgraded before the node was
    /// revoked, its account disabled or its attributes changed is closed, never welcomed.
    private func serve(
        credential: String, ticket: TunnelSockets.Ticket, inbound: WebSocketInboundStream, socket: TunnelSocket, logger: Logger
    ) async throws {
        let outbound = socket.outbound
        var messages = inbound.messages(maxSize: 64 << 20).makeAsyncIterator()
        let first = try await Self.firstFrame(of: &messages, within: services.configuration.helloTimeout, closing: outbound)
        guard case .text(let text)? = first, case .hello(let hello) = try? await Self.decode(text) else {
            logger.warning("node did not start with a valid hello")
            try await outbound.close(.protocolError, reason: "expected hello")
            return
        }
        guard hello.protocol == TunnelMessage.protocolVersion else {
            try await outbound.close(.policyViolation, reason: "unsupported protocol \(hello.protocol); this hub speaks \(TunnelMessage.protocolVersion)")
            return
        }
        guard let node = try await services.store.authenticateNode(credential), node.id == ticket.nodeID, !services.tunnelSockets.isStale(ticket) else {
            logger.warning("node credential revoked or node changed before its hello")
            try await outbound.close(.policyViolation, reason: "node revoked or changed; reconnect")
            return
        }
        let accepted = Set(hello.models.filter { $0.state == .ready && services.catalog.offered($0.id) != nil }.map(\.id))
        let ignored = hello.models.map(\.id).filter { services.catalog.offered($0) == nil }
        if !ignored.isEmpty { logger.info("ignoring models the catalog does not offer: \(ignored.prefix(20))") }
        let connection = NodeConnection(
            node: node, hello: hello, socket: socket, maximumAnswerBytes: services.configuration.maximumAnswerSize)
        // Its requests fail over as soon as the socket closes, not when the read loop notices.
        socket.channel.closeFuture.whenComplete { _ in connection.markClosed() }
        try await connection.send(
            .welcome(.init(nodeID: node.id, region: node.region, trustClass: node.trustClass, acceptedModels: accepted.sorted(), endText: true)))
        // Registered only if the node's record did not change since the check above: the actor
        // checks it in the same step, so a revocation cannot slip in between.
        let sockets = services.tunnelSockets
        guard case .registered(let previous) = await services.registry.register(connection, unless: { sockets.isStale(ticket) }) else {
            try await outbound.close(.policyViolation, reason: "node revoked or changed; reconnect")
            return
        }
        // The old socket closes beside this tunnel's reading, not before it: a node that stopped
        // reading it may take the stall limit to close.
        previous?.markClosed()
        async let _ = previous?.disconnect(reason: "replaced by a newer connection")
        try? await services.store.markNodeSeen(id: node.id)
        logger.info("node connected", metadata: ["engine": .string(String(hello.engine.prefix(64))), "models": .string(accepted.sorted().joined(separator: ","))])
        defer { logger.info("node disconnected") }
        var refused = 0
        do {
            while let message = try await messages.next() {
                guard case .text(let text) = message else { continue }
                let frame: TunnelMessage
                do {
                    frame = try await Self.decode(text)
                } catch {
                    refused += 1
                    // The first few, then every thousandth: a node cannot flood the log.
                    if refused <= 10 || refused.isMultiple(of: 1000) { logger.warning("refusing frame #\(refused): \(error)") }
                    if let id = error.requestID { connection.fail(id, with: .nodeError("The node sent an invalid answer: \(error).")) }
                    continue
                }
                switch frame {
                case .progress, .loaded, .unloaded, .loadFailed:
                    if case .loadFailed(let failure) = frame { logger.warning("load of \(failure.model) failed: \(failure.message)") }
                    await services.registry.apply(frame, from: connection)
                case .hello:
                    logger.warning("ignoring a second hello")
                default:
                    connection.deliver(frame)
                }
            }
        } catch {
            logger.info("tunnel read ended: \(error)")
        }
        await services.registry.unregister(connection)
        connection.markClosed()
        try? await services.store.markNodeSeen(id: node.id)
    }
}
