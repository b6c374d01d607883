import NIOCore
import NIOHTTP1
import NIOPosix

/// One keep-alive HTTP/1.1 connection to an upstream, carrying one request at a time.
final class UpstreamConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<UpstreamExchangeHandler>
    /// Whether it carried a request before (a closed idle connection is retried, a new one is not).
    let reused: Bool

    private init(channel: any Channel, handler: NIOLoopBound<UpstreamExchangeHandler>, reused: Bool) {
        self.channel = channel
        self.handler = handler
        self.reused = reused
    }

    /// The same connection, marked as having carried a request.
    func reusing() -> UpstreamConnection {
        UpstreamConnection(channel: channel, handler: handler, reused: true)
    }

    /// Opens a connection; `onReusable` is called (on its event loop) each time an answer ended
    /// and it may carry the next request.
    static func connect(
        host: String, port: Int, group: any EventLoopGroup, timeout: TimeAmount,
        onReusable: @escaping @Sendable (UpstreamConnection) -> Void
    ) async throws -> UpstreamConnection {
        // On the caller's event loop when it runs on one (the node's request tasks do).
        let (channel, handler) = try await ClientBootstrap(group: group.any())
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: false)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = UpstreamExchangeHandler()
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                    return (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop))
                }
            }
        let connection = UpstreamConnection(channel: channel, handler: handler, reused: false)
        try await channel.eventLoop.submit {
            // A cycle (handler → closure → connection → handler) that the handler breaks when it closes.
            handler.value.onReusable = { onReusable(connection.reusing()) }
        }.get()
        return connection
    }

    /// Sends one request; returns once the answer's head arrived, with its body to read.
    func send(id: Int, _ head: HTTPRequestHead, body: ByteBuffer?, deadline: NIODeadline) async throws -> UpstreamResponse {
        let headPromise = channel.eventLoop.makePromise(of: HTTPResponseHead.self)
        let answer = UpstreamExchangeHandler.Body.makeSequence(
            backPressureStrategy: .init(lowWatermark: 4, highWatermark: 32), finishOnDeinit: true,
            delegate: UpstreamBodyDemand(id: id, handler: handler))
        let source = answer.source
        channel.eventLoop.execute { [handler] in
            handler.value.start(id: id, head, body: body, head: headPromise, body: source, deadline: deadline)
        }
        let responseHead = try await withTaskCancellationHandler {
            try await headPromise.futureResult.get()
        } onCancel: { [handler] in
            // This exchange only: the connection may already carry another request.
            handler.eventLoop.execute { handler.value.cancel(id: id) }
        }
        let finish: @Sendable () -> Void = { [handler] in handler.eventLoop.execute { handler.value.drain(id: id) } }
        return UpstreamResponse(
            status: Int(responseHead.status.code), headers: responseHead.headers, body: .init(answer.sequence), finishReading: finish)
    }

    func close() {
        channel.close(promise: nil)
    }
}
