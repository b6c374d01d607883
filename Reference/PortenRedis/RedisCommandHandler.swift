import NIOCore

/// Commands written together (one, or a MULTI … EXEC block), each awaiting one reply. Writing them
/// in one request keeps other writers' commands from landing between them.
struct RedisRequest: Sendable {
    let bytes: ByteBuffer
    let name: String
    let replies: [EventLoopPromise<RESPValue>]
    let deadline: NIODeadline
}

/// The command written to a connection that had already closed: it never reached the server, so
/// sending it again on the next connection is safe.
struct RedisNotSent: Error {}

/// Pairs replies with requests: the server answers in order, so each reply completes the oldest
/// waiting promise. A request whose deadline passes fails with ``RedisError/timeout(_:)`` at once
/// but keeps its place, so the late reply still lines up. When the oldest request is past its
/// deadline and every request waiting has waited at least `unresponsiveAfter` (the client's command
/// timeout) and is past its own deadline, the server is taken as unresponsive and the connection is
/// closed: one caller's short timeout during a brief stall does not fail everyone else's commands,
/// and a command whose caller allowed it longer keeps the connection that long. Redis writes the
/// replies to commands that arrived together only after the last of them ran, so a PING pipelined
/// just before a long `DEBUG SLEEP` or script is answered late without the server being gone. A
/// closed connection fails everything still waiting, so no caller waits past its deadline or a close.
///
/// Time is the event loop's (`EventLoop.now`), so tests drive it with an embedded loop.
///
/// On a subscriber connection (`push` set), `message` arrays are not replies: they go to `push`.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Waiting {
        let promise: EventLoopPromise<RESPValue>
        let name: String
        let deadline: NIODeadline
        /// When the server, silent on this request, counts as unresponsive.
        let unresponsiveAt: NIODeadline
        var expired = false
    }

    private var waiting = CircularBuffer<Waiting>()
    /// Why the connection is unusable, once it is.
    private var closed: RedisError?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private let push: (@Sendable (RedisMessage) -> Void)?
    private let unresponsiveAfter: TimeAmount

    init(unresponsiveAfter: TimeAmount = .seconds(2), push: (@Sendable (RedisMessage) -> Void)? = nil) {
        self.unresponsiveAfter = unresponsiveAfter
        self.push = push
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        guard closed == nil else {
            for reply in request.replies { reply.fail(RedisNotSent()) }
            promise?.fail(RedisNotSent())
            return
        }
        let unresponsiveAt = max(request.deadline, context.eventLoop.now + unresponsiveAfter)
        for reply in request.replies {
            waiting.append(Waiting(promise: reply, name: request.name, deadline: request.deadline, unresponsiveAt: unresponsiveAt))
        }
        armTimer(context: context, for: request.deadline)
        context.write(wrapOutboundOut(request.bytes), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        if let push, let message = RedisMessage(pushed: value) {
            push(message)
            return
        }
        guard let oldest = waiting.popFirst() else {
            fail(context: context, with: .protocolError("a reply nothing was waiting for: \(value.summary)"))
            return
        }
        oldest.promise.succeed(value)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed("the connection closed before the reply; the command may or may not have run"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as RESPDecodingError: fail(context: context, with: .protocolError(error.description))
        default: fail(context: context, with: .connectionClosed("\(error); the command may or may not have run"))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(.connectionClosed("the connection closed before the reply; the command may or may not have run"))
    }

    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        failAll(error)
        context.close(promise: nil)
    }

    private func failAll(_ error: RedisError) {
        if closed == nil { closed = error }
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        while let entry = waiting.popFirst() { entry.promise.fail(error) }
    }

    /// Makes sure the timer fires by `deadline`.
    private func armTimer(context: ChannelHandlerContext, for deadline: NIODeadline) {
        if let timerDeadline, timerDeadline <= deadline { return }
        timer?.cancel()
        timerDeadline = deadline
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = loopBound.value
            handler.timerFired(context: context)
        }
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerDeadline = nil
        let now = context.eventLoop.now
        var next: NIODeadline?
        var patience: NIODeadline?
        for index in waiting.indices {
            let entry = waiting[index]
            patience = max(patience ?? entry.unresponsiveAt, entry.unresponsiveAt)
            guard !entry.expired else { continue }
            if entry.deadline <= now {
                waiting[index].expired = true
                entry.promise.fail(RedisError.timeout("no reply to \(entry.name) within its timeout; it may or may not have run"))
            } else {
                next = min(next ?? entry.deadline, entry.deadline)
            }
        }
        if let oldest = waiting.first, oldest.expired, let patience {
            if patience <= now {
                fail(context: context, with: .connectionClosed("the server did not answer an earlier command in time; the command may or may not have run"))
                return
            }
            next = min(next ?? patience, patience)
        }
        if let next { armTimer(context: context, for: next) }
    }
}
