import Hummingbird

/// Where a request runs. Each HTTP connection's task runs on its own event loop
/// (``RequestDeadlineChannel``). While few requests are in flight, the hot path (a chat request
/// read, routed to a node's tunnel, its answer written back) stays there: it crosses no thread
/// when the tunnel shares that loop and one when it does not, instead of four through the global
/// executor, and on this kind of machine each crossing is a wake-up costing tens of microseconds.
/// Under load the threads are awake anyway, and the global executor spreads the work over the
/// cores where a loop would queue it behind its other connections and tunnels: from
/// ``onLoopBelow`` requests in flight, the hot path goes there too (measured both ways, see
/// docs/benchmarks.md).
///
/// Everything else always goes to the global executor, as it would hold up the loop: a body over
/// ``onLoopBodySize`` or of unknown length (a 2 MB prompt takes tens of milliseconds to parse),
/// embeddings (long vectors), pages, admin and enrollment.
struct LoopOrPoolMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    static let onLoopBodySize = 64 << 10
    /// Requests being metered from which the hot path leaves the loop too.
    static let onLoopBelow = 4
    /// Counts the requests in flight (``UsageRecorder/meteredRequests``).
    let usage: UsageRecorder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if usage.meteredRequests < Self.onLoopBelow, Self.staysOnLoop(request) { return try await next(request, context) }
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
