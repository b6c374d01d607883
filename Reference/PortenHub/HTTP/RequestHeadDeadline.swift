import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// Closes a connection whose first request head is not complete within a deadline.
///
/// Hummingbird's idle timeout starts once the first request head has been parsed (its handler
/// joins the pipeline after the WebSocket-upgrade decision), so a connection that sends nothing,
/// half a head, garbage or a TLS ClientHello would otherwise be held forever. This handler sits
/// first in the pipeline, watches the raw bytes for the end of the head (`\r\n\r\n`) and leaves
/// once it has passed; from then on the idle timeout governs bodies and keep-alive.
final class RequestHeadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// The last bytes seen, to find a `\r\n\r\n` split across reads.
    private var tail: [UInt8] = []

    init(timeout: TimeAmount) { self.timeout = timeout }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { loopBound.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let headEnded = Self.findsHeadEnd(after: tail, in: buffer.readableBytesView)
        tail = Array((tail + buffer.readableBytesView.suffix(3)).suffix(3))
        context.fireChannelRead(data)
        if headEnded { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    /// Whether `\r\n\r\n` occurs in `tail` followed by `bytes`.
    static func findsHeadEnd(after tail: [UInt8], in bytes: ByteBufferView) -> Bool {
        let end: [UInt8] = [13, 10, 13, 10]
        var window = tail
        for byte in bytes {
            window.append(byte)
            if window.count > 4 { window.removeFirst() }
            if window == end { return true }
        }
        return false
    }
}

/// A server child channel that puts a ``RequestHeadDeadline`` in front of another one.
struct HeadDeadlineChannel<Wrapped: ServerChildChannel>: ServerChildChannel {
    typealias Value = Wrapped.Value
    let wrapped: Wrapped
    let timeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(RequestHeadDeadline(timeout: timeout))
        }.flatMap { wrapped.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await wrapped.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades, as `http1WebSocketUpgrade(webSocketRouter:configuration:)`,
    /// with every connection's first request head due within the configuration's idle timeout.
    static func http1WebSocketUpgradeWithHeadDeadline<Router: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: Router, configuration: HTTP1WebSocketUpgradeChannel.Configuration
    ) -> HTTPServerBuilder where Router.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        let timeout = configuration.http1.idleTimeout ?? .seconds(30)
        return .init { responder in
            HeadDeadlineChannel(
                wrapped: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                timeout: timeout)
        }
    }
}
