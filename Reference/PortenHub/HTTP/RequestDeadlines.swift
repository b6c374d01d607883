import EventLoopExecution
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Deadlines on reading requests, which Hummingbird's idle timeout does not give: its handler
/// joins the pipeline only after the first head is parsed (after the WebSocket-upgrade decision)
/// and every body part resets it. Sitting right after the HTTP decoder, this closes a connection
///
/// - whose first request head is not decoded within `headTimeout` of the connection opening
///   (silence, half a head, a leading blank line, garbage, a TLS ClientHello on the plain port);
/// - whose request body has not ended within `bodyTimeout` of its head (a body dripped a byte at a
///   time, a chunked body never terminated);
/// - that sends bytes the decoder refuses.
///
/// Between requests on a keep-alive connection, Hummingbird's idle timeout applies.
final class RequestDeadlines: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let headTimeout: TimeAmount
    private let bodyTimeout: TimeAmount
    /// When the connection is closed unless the current head or body has been read by then.
    private var deadline: NIODeadline?
    /// The timer that checks ``deadline``; one at a time, kept across keep-alive requests
    /// instead of a timer scheduled and cancelled for each.
    private var timer: (scheduled: Scheduled<Void>, firesAt: NIODeadline)?
    /// The request being read asks for a protocol upgrade (WebSocket).
    private var upgrading = false

    init(headTimeout: TimeAmount, bodyTimeout: TimeAmount) {
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { arm(.now() + headTimeout, context) }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline = nil
        timer?.scheduled.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            arm(.now() + bodyTimeout, context)
            // A WebSocket upgrade either succeeds or ends the connection; other `Upgrade:` values are ignored.
            upgrading = head.headers.contains(name: "upgrade") && head.headers["upgrade"].contains { $0.lowercased().contains("websocket") }
            context.fireChannelRead(data)
        case .body:
            context.fireChannelRead(data)
        case .end:
            deadline = nil
            context.fireChannelRead(data)
            // After an upgrade request the decoder leaves and raw frames follow: so does this handler.
            if upgrading { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The decoder refused the bytes: there is no request to answer.
        if error is HTTPParserError { context.close(promise: nil) }
        context.fireErrorCaught(error)
    }

    /// Sets the deadline; a timer is scheduled only when none is pending before it (one that
    /// fires early re-arms itself for the deadline then current).
    private func arm(_ deadline: NIODeadline, _ context: ChannelHandlerContext) {
        self.deadline = deadline
        if let timer {
            guard deadline < timer.firesAt else { return }
            timer.scheduled.cancel()
        }
        scheduleTimer(at: deadline, context)
    }

    private func scheduleTimer(at instant: NIODeadline, _ context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(deadline: instant) { [self] in
            timer = nil
            guard let deadline else { return }  // read in time; the next head re-arms
            if deadline <= .now() {
                loopBound.value.close(promise: nil)
            } else {
                scheduleTimer(at: deadline, loopBound.value)
            }
        }
        timer = (scheduled, instant)
    }
}

/// A server child channel that adds ``RequestDeadlines`` right after the HTTP decoder of another
/// one, and runs each connection's task on the connection's event loop (``LoopOrPoolMiddleware``
/// says which requests leave it).
struct RequestDeadlineChannel<Wrapped: ServerChildChannel>: ServerChildChannel {
    typealias Value = Wrapped.Value
    let wrapped: Wrapped
    let headTimeout: TimeAmount
    let bodyTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        wrapped.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try pipeline.addHandler(RequestDeadlines(headTimeout: headTimeout, bodyTimeout: bodyTimeout), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopExecutor(value.channel.eventLoop)) {
            await wrapped.handle(value: value, logger: logger)
        }
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 with WebSocket upgrades, as `http1WebSocketUpgrade(webSocketRouter:configuration:)`,
    /// with ``RequestDeadlines``: heads due within the idle timeout, bodies within `bodyTimeout`.
    static func http1WebSocketUpgradeWithDeadlines<Router: HTTPResponderBuilder & _HB_SendableMetatype>(
        webSocketRouter: Router, configuration: HTTP1WebSocketUpgradeChannel.Configuration, bodyTimeout: Duration
    ) -> HTTPServerBuilder where Router.Responder.Context: WebSocketRequestContext {
        let webSocketResponder = webSocketRouter.buildResponder()
        let headTimeout = configuration.http1.idleTimeout ?? .seconds(30)
        return .init { responder in
            RequestDeadlineChannel(
                wrapped: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                headTimeout: headTimeout, bodyTimeout: .nanoseconds(Int64(bodyTimeout / .nanoseconds(1))))
        }
    }
}
