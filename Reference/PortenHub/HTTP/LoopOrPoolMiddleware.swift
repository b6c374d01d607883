import Hummingbird

/// Where a request runs. Each HTTP connection's task runs on its own event loop
/// (``RequestDeadlineChannel``), so the hot path (a chat request read, routed to a node's tunnel,
/// its answer written back) crosses no thread when the tunnel shares that loop, and one when it
/// does not, instead of four through the global executor. Everything else goes to the global
/// executor, as it would hold up every connection and tunnel on the loop: a body over
/// ``onLoopBodySize`` or of unknown length (a 2 MB prompt takes tens of milliseconds to parse),
/// embeddings (long vectors), pages, passwords to hash, admin and enrollment.
struct LoopOrPoolMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    static let onLoopBodySize = 64 << 10

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.staysOnLoop(request) { return try await next(request, context) }
        return try await withTaskExecutorPreference(globalConcurrentExecutor) { try await next(request, context) }
    }

    static func staysOnLoop(_ request: Request) -> Bool {
        switch request.method {
        case .get:
            let path = request.uri.path
            return path == "/healthz" || path.hasPrefix("/v1/models")
        case .post:
            let path = request.uri.path
            guard path == "/v1/chat/completions" || path == "/internal/v1/chat/completions" else { return false }
            guard request.headers[.transferEncoding] == nil, let length = request.headers[.contentLength].flatMap({ Int($0) }) else { return false }
            return length <= onLoopBodySize
        default:
            return false
        }
    }
}
