import Hummingbird
import OpenAIWire

/// `/internal/v1`: requests another replica forwards (``ReplicaForward``), with the replicas'
/// shared `--replica-token`, compared in constant time; without it the path does not exist (404).
/// The request keeps the forwarding replica's request id, so its usage row carries the id the
/// client saw.
struct ReplicaTokenMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let token: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = SecretToken.sha256(request.headers[.portenReplicaToken] ?? "")
        guard let token, SecretToken.constantTimeEquals(presented, SecretToken.sha256(token)) else {
            throw APIError.notFound(path: request.uri.path)
        }
        var context = context
        context.forwarded = true
        if let id = request.headers[.portenForwardedRequestID], id.hasPrefix("req_"), id.utf8.count <= 40,
            id.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) })
        {
            context.requestID = id
        }
        return try await next(request, context)
    }
}
