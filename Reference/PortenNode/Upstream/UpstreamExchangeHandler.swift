import NIOCore
import NIOHTTP1

/// The pipeline end of one pooled upstream connection: runs one request at a time, hands the
/// answer's head to a promise and its body to a backpressured sequence, and says when the
/// connection may carry the next request. Event-loop only.
final class UpstreamExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    typealias Body = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, UpstreamBodyDemand
    >

    private enum State {
        /// Between requests, with a read pending so that a server closing the connection is seen.
        case idle
        case waitingForHead(id: Int, head: EventLoopPromise<HTTPResponseHead>, body: Body.Source)
        case readingBody(id: Int, body: Body.Source, keepAlive: Bool)
        case closed
    }

    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Whether the body's reader wants more (false once its buffer is above the high watermark).
    private var demand = true
    private var timeout: Scheduled<Void>?
    /// Whether any byte of the current answer arrived (a reused connection that closes before
    /// that may be retried on a new one).
    private(set) var answered = false
    /// Called on the event loop when an answer ended and the connection may be reused.
    var onReusable: (() -> Void)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    /// Writes one request with a single flush; its answer goes to `head` and `body`.
    func start(
        id: Int, _ request: HTTPRequestHead, body payload: ByteBuffer?, head: EventLoopPromise<HTTPResponseHead>, body: Body.Source,
        deadline: NIODeadline
    ) {
        guard case .idle = state, let context, context.channel.isActive else {
            let error = UpstreamConnectionClosed(beforeAnswer: true)
            head.fail(error)
            body.finish(error)
            return
        }
        state = .waitingForHead(id: id, head: head, body: body)
        answered = false
        demand = true
        timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.fail(UpstreamTimeout()) }
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        if let payload { context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answered = true
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .waitingForHead(let id, let promise, let body)):
            state = .readingBody(id: id, body: body, keepAlive: head.isKeepAlive)
            promise.succeed(head)
        case (.body(let bytes), .readingBody(_, let body, _)):
            demand = body.yield(bytes) == .produceMore
        case (.end, .readingBody(_, let body, let keepAlive)):
            timeout?.cancel()
            timeout = nil
            body.finish()
            guard keepAlive else {
                state = .closed
                context.close(promise: nil)
                return
            }
            state = .idle
            onReusable?()
        default:
            // An answer nobody asked for (or a part out of order): the connection is unusable.
            fail(UpstreamProtocolError())
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .idle, .waitingForHead: context.read()
        case .readingBody: if demand { context.read() }
        case .closed: break
        }
    }

    /// The body's reader drained its buffer: read on.
    func produceMore(id: Int) {
        guard case .readingBody(id, _, _) = state, !demand else { return }
        demand = true
        context?.read()
    }

    /// The body's reader stopped (it has what it needs, or was cancelled) before the answer
    /// ended: the rest of the answer is not worth reading and the connection cannot be reused.
    func readerGone(id: Int) {
        switch state {
        case .waitingForHead(id, _, _), .readingBody(id, _, _): fail(CancellationError())
        default: break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(UpstreamConnectionClosed(beforeAnswer: !answered))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
    }

    /// Ends the current request with `error` and closes the connection.
    private func fail(_ error: any Error) {
        let previous = state
        state = .closed
        timeout?.cancel()
        timeout = nil
        switch previous {
        case .waitingForHead(_, let head, let body):
            head.fail(error)
            body.finish(error)
        case .readingBody(_, let body, _):
            body.finish(error)
        case .idle, .closed:
            break
        }
        if case .closed = previous { return }
        context?.close(promise: nil)
    }
}

/// Tells the handler, on its event loop, what the reader of an answer's body does.
struct UpstreamBodyDemand: NIOAsyncSequenceProducerDelegate {
    let id: Int
    let handler: NIOLoopBound<UpstreamExchangeHandler>

    func produceMore() {
        handler.eventLoop.execute { [handler, id] in handler.value.produceMore(id: id) }
    }

    func didTerminate() {
        handler.eventLoop.execute { [handler, id] in handler.value.readerGone(id: id) }
    }
}

/// The upstream closed the connection before the answer ended.
struct UpstreamConnectionClosed: Error, CustomStringConvertible {
    /// Whether nothing of the answer had arrived.
    var beforeAnswer: Bool
    var description: String { beforeAnswer ? "the upstream closed the connection before answering" : "the upstream closed the connection mid-answer" }
}

struct UpstreamTimeout: Error, CustomStringConvertible {
    var description: String { "the upstream did not finish its answer in time" }
}

struct UpstreamProtocolError: Error, CustomStringConvertible {
    var description: String { "the upstream sent an HTTP answer out of order" }
}
