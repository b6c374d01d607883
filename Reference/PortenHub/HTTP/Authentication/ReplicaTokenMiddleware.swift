import Hummingbird
import OpenAIWire

/// `/internal/v1`: requests another replica forwards (``ReplicaForward``), with the replicas'
/// shared `--replica-token`, compared in constant time; without it the path does not exist (404).
/// The request keeps the forwarding replica's request id (once: a reused id is replaced by a new
/// one), so its usage row carries the id the client saw; the answer names this replica, so the
/// forwarding one knows it reached the replica it meant to: a refusal too (401, 429, 503…), which
/// is this replica's answer to relay, not a sign of the wrong replica (the request would run twice).
struct ReplicaTokenMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let directory: ReplicaDirectory?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let presented = SecretToken.sha256(request.headers[.portenReplicaToken] ?? "")
        guard let directory, SecretToken.constantTimeEquals(presented, SecretToken.sha256(directory.token)) else {
            throw APIError.notFound(path: request.uri.path)
        }
        var context = context
        context.forwarded = true
        if let id = request.headers[.portenForwardedRequestID], id.hasPrefix("req_"), id.utf8.count <= 40,
            id.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) }),
            // Once only: the id is the ledger's idempotency key, and a reused one would be free.
            await directory.claimForwardedID(id)
        {
            context.requestID = id
        }
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = OpenAIErrorMiddleware.response(for: error, request: request, context: context)
        }
        response.headers[.portenReplica] = directory.id
        return response
    }
}
