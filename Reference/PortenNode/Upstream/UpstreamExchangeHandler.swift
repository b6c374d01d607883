#if canImport(Glibc)
import Glibc
#endif
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
        /// The reader has what it needs (an SSE stream's `[DONE]`) before the HTTP answer ended:
        /// the rest, a few bytes, is read and dropped so the connection can carry the next request.
        case draining(id: Int, keepAlive: Bool, left: Int)
        case closed
    }

    /// How much of an answer is read past what its reader needed, and for how long, before the
    /// connection is closed instead.
    static let drainLimit = 64 << 10
    static let drainTime = TimeAmount.seconds(1)
    /// A close this soon after the request was written, before any answer, is the server's
    /// keep-alive timeout racing the request, not the server failing on it: safe to retry.
    static let staleWindow = TimeAmount.milliseconds(250)

    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Whether the body's reader wants more (false once its buffer is above the high watermark).
    private var demand = true
    private var timeout: Scheduled<Void>?
    /// When the current request was written out whole; nil until then.
    private var written: NIODeadline?
    /// Whether any byte of the current answer arrived.
    private var answered = false
    /// Called on the event loop when an answer ended and the connection may be reused.
    var onReusable: (() -> Void)?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Breaks the handler ↔ context and handler ↔ connection cycles.
        self.context = nil
        onReusable = nil
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
            let error = UpstreamConnectionClosed(beforeAnswer: true, stale: true)
            head.fail(error)
            body.finish(error)
            return
        }
        state = .waitingForHead(id: id, head: head, body: body)
        answered = false
        written = nil
        demand = true
        timeout = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.fail(UpstreamTimeout()) }
        context.write(wrapOutboundOut(.head(request)), promise: nil)
        if let payload { context.write(wrapOutboundOut(.body(.byteBuffer(payload))), promise: nil) }
        let end = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: end)
        end.futureResult.assumeIsolated().whenSuccess {
            if self.current == id { self.written = .now() }
        }
    }

    /// The id of the request the connection carries, if any.
    private var current: Int? {
        switch state {
        case .waitingForHead(let id, _, _), .readingBody(let id, _, _), .draining(let id, _, _): id
        case .idle, .closed: nil
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        answered = true
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .waitingForHead(let id, let promise, let body)):
            // After `101 Switching Protocols` the bytes are no longer HTTP.
            state = .readingBody(id: id, body: body, keepAlive: head.isKeepAlive && head.status != .switchingProtocols)
            promise.succeed(head)
        case (.body(let bytes), .readingBody(_, let body, _)):
            demand = body.yield(bytes) == .produceMore
        case (.body(let bytes), .draining(let id, let keepAlive, let left)):
            guard bytes.readableBytes <= left else { return fail(CancellationError()) }
            state = .draining(id: id, keepAlive: keepAlive, left: left - bytes.readableBytes)
        case (.end, .readingBody(_, let body, let keepAlive)):
            body.finish()
            ended(keepAlive: keepAlive, context: context)
        case (.end, .draining(_, let keepAlive, _)):
            ended(keepAlive: keepAlive, context: context)
        default:
            // An answer nobody asked for (or a part out of order): the connection is unusable.
            fail(UpstreamProtocolError())
        }
    }

    /// The answer ended: the connection goes back to the pool if both sides keep it open and the
    /// whole request went out (a server that answered early may still be reading its body).
    private func ended(keepAlive: Bool, context: ChannelHandlerContext) {
        timeout?.cancel()
        timeout = nil
        guard keepAlive, written != nil, context.channel.isActive else {
            state = .closed
            context.close(promise: nil)
            return
        }
        state = .idle
        onReusable?()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .idle, .waitingForHead, .draining: context.read()
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

    /// The body's reader has what it needs: the rest of the answer is read and dropped (within
    /// ``drainLimit`` and ``drainTime``) so the connection can be reused.
    func drain(id: Int) {
        guard case .readingBody(id, let body, let keepAlive) = state, let context else { return }
        body.finish()
        state = .draining(id: id, keepAlive: keepAlive, left: Self.drainLimit)
        timeout?.cancel()
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: Self.drainTime) { self.fail(CancellationError()) }
        if !demand {
            demand = true
            context.read()
        }
    }

    /// The body's reader stopped before the answer ended without saying it had what it needed
    /// (it was cancelled, or failed): the upstream is cut off, which stops its work.
    func readerGone(id: Int) {
        switch state {
        case .waitingForHead(id, _, _), .readingBody(id, _, _): fail(CancellationError())
        default: break
        }
    }

    /// The request's task was cancelled: its exchange (and only its) ends, the connection closes.
    func cancel(id: Int) {
        if current == id { fail(CancellationError()) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(closedError())
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset before any answer is the same race as a close (a server dropping an idle connection).
        if let error = error as? IOError, [ECONNRESET, EPIPE].contains(error.errnoCode) {
            fail(closedError())
        } else {
            fail(error)
        }
    }

    private func closedError() -> UpstreamConnectionClosed {
        let stale = !answered && (written.map { .now() - $0 < Self.staleWindow } ?? true)
        return UpstreamConnectionClosed(beforeAnswer: !answered, stale: stale)
    }

    /// Ends the current request with `error` and closes the connection.
    private func fail(_ error: any Error) {
        let previous = state
        state = .closed
        timeout?.cancel()
        timeout = nil
        onReusable = nil
        switch previous {
        case .waitingForHead(_, let head, let body):
            head.fail(error)
            body.finish(error)
        case .readingBody(_, let body, _):
            body.finish(error)
        case .idle, .draining, .closed:
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

/// The upstream closed (or reset) the connection before the answer ended.
struct UpstreamConnectionClosed: Error, CustomStringConvertible {
    /// Whether nothing of the answer had arrived.
    var beforeAnswer: Bool
    /// Whether it closed before the request was out or right after: a reused connection the
    /// server had just dropped (its keep-alive timeout), where the request may be sent again.
    var stale: Bool
    var description: String { beforeAnswer ? "the upstream closed the connection before answering" : "the upstream closed the connection mid-answer" }
}

struct UpstreamTimeout: Error, CustomStringConvertible {
    var description: String { "the upstream did not finish its answer in time" }
}

struct UpstreamProtocolError: Error, CustomStringConvertible {
    var description: String { "the upstream sent an HTTP answer out of order" }
}
