import Hummingbird
import OpenAIWire

/// `/node/v1/connect`: a live node credential (`Authorization: Bearer pnode-…`) puts the node in
/// the context — on the WebSocket router before the upgrade is decided, and on the plain route
/// that explains a refused upgrade — or answers 401.
struct NodeCredentialMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: any HubStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let credential = request.headers.bearerToken else { throw APIError.unauthorized("Missing node credential.") }
        let node: NodeRecord?
        do {
            node = try await store.authenticateNode(credential)
        } catch {
            throw APIError.storeUnavailable("The node store")
        }
        guard let node else { throw APIError.unauthorized("Invalid or revoked node credential.") }
        var context = context
        context.node = AuthenticatedNode(record: node, credential: credential)
        return try await next(request, context)
    }
}

/// A node whose credential checked out at the upgrade; the tunnel checks the credential again at
/// hello, so it keeps it.
public struct AuthenticatedNode: Sendable {
    public var record: NodeRecord
    var credential: String
}
