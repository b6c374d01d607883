import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on loopback whose paths misbehave on purpose, counting the connections
/// it accepts: `/ok` answers a small JSON, `/close` answers with `Connection: close`, `/idle-close`
/// answers and then closes the idle connection, `/silent` never answers, `/stream` sends 200
/// chunks 5 ms apart, `/stream-done` sends `data: [DONE]` and ends the body 30 ms later,
/// `/arm-drop` answers and then drops the connection's next request unanswered, `/slow-drop`
/// closes the connection 400 ms after the request, unanswered.
final class UpstreamTestServer: Sendable {
    let port: Int
    private let channel: any Channel
    let accepted = Atomic(0)
    let closed = Atomic(0)
    /// The `Authorization` and `Content-Type` of the last request, and its body.
    let lastRequest = Mutex<(authorization: String?, contentType: String?, host: String?, body: String)?>(nil)
    /// Every request's path, in arrival order (dropped ones too).
    let paths = Mutex<[String]>([])

    init(host: String = "127.0.0.1") async throws {
        let server = ServerBootstrapBox()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [server] channel in
                server.value?.accepted.add(1, ordering: .relaxed)
                channel.closeFuture.whenComplete { _ in server.value?.closed.add(1, ordering: .relaxed) }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Responder(server: server))
                }
            }
            .bind(host: host, port: 0).get()
        port = channel.localAddress!.port!
        server.value = self
    }

    func stop() async throws {
        try await channel.close()
    }

    final class ServerBootstrapBox: @unchecked Sendable {
        weak var value: UpstreamTestServer?
    }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: ServerBootstrapBox
        var head: HTTPRequestHead?
        var body = ""
        /// `/arm-drop` was answered on this connection: its next request is dropped.
        var dropNext = false

        init(server: ServerBootstrapBox) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(let bytes):
                body += String(buffer: bytes)
            case .end:
                guard let head else { return }
                server.value?.lastRequest.withLock {
                    $0 = (head.headers.first(name: "Authorization"), head.headers.first(name: "Content-Type"), head.headers.first(name: "Host"), body)
                }
                server.value?.paths.withLock { $0.append(head.uri) }
                if dropNext {
                    context.close(promise: nil)
                    return
                }
                dropNext = head.uri == "/arm-drop"
                respond(to: head, context: context)
            }
        }

        private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
            let json = #"{"ok":true,"path":"\#(request.uri)"}"#
            switch request.uri {
            case "/silent":
                return
            case "/slow-drop":
                let channel = context.channel
                context.eventLoop.scheduleTask(in: .milliseconds(400)) { channel.close(promise: nil) }
            case "/stream-done":
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Type", value: "text/event-stream")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: {}\n\ndata: [DONE]\n\n")))), promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(30)) {
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                }
            case "/stream":
                var head = HTTPResponseHead(version: .http1_1, status: .ok)
                head.headers.add(name: "Content-Type", value: "text/event-stream")
                context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
                let loop = context.eventLoop.assumeIsolated()
                func chunk(_ n: Int) {
                    guard n < 200 else {
                        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                        return
                    }
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "data: \(n)\n\n")))), promise: nil)
                    loop.scheduleTask(in: .milliseconds(5)) { chunk(n + 1) }
                }
                chunk(0)
            default:
                var head = HTTPResponseHead(version: .http1_1, status: request.uri == "/missing" ? .notFound : .ok)
                head.headers.add(name: "Content-Type", value: "application/json")
                head.headers.add(name: "Content-Length", value: String(json.utf8.count))
                if request.uri == "/close" { head.headers.add(name: "Connection", value: "close") }
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
                let ended = context.writeAndFlush(wrapOutboundOut(.end(nil)))
                if request.uri == "/close" || request.uri == "/idle-close" {
                    let channel = context.channel
                    ended.whenComplete { _ in channel.close(promise: nil) }
                }
            }
        }
    }
}
