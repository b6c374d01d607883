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
/// Everything else always goes to the global executor, its response body included, as it would
/// hold up the loop: a body over ``onLoopBodySize`` or of unknown length (a 2 MB prompt takes tens
/// of milliseconds to parse), embeddings (long vectors), pages, admin, enrollment, downloads. A
/// long answer is encoded off the loop too (`ChatCompletionsController`).
struct LoopOrPoolMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext

    static let onLoopBodySize = 64 << 10
    /// Requests being metered from which the hot path leaves the loop too.
    static let onLoopBelow = 4
    /// Counts the requests in flight (``UsageRecorder/meteredRequests``).
    let usage: UsageRecorder

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let hot = Self.isHotPath(request)
        if hot, usage.meteredRequests < Self.onLoopBelow { return try await next(request, context) }
        var response = try await withTaskExecutorPreference(globalConcurrentExecutor) { try await next(request, context) }
        // The body is written after the handler returns, in the connection's task: off the loop
        // too (a file read, a page), but for the hot path's (a stream's relay is light per chunk).
        if !hot { response.body = Self.offLoop(response.body) }
        return response
    }

    /// A chat request with a short body, the health check, the model list.
    static func isHotPath(_ request: Request) -> Bool {
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

    private static func offLoop(_ body: ResponseBody) -> ResponseBody {
        ResponseBody(contentLength: body.contentLength) { writer in
            try await withTaskExecutorPreference(globalConcurrentExecutor) { try await body.write(writer) }
        }
    }
}
