import Hummingbird
import OpenAIWire

/// `/v1`: resolves `Authorization: Bearer sk-porten-…` to a live key and puts it in the context,
/// or answers 401 before any handler runs.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: HubStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.apiKey = try authenticate(request)
        return try await next(request, context)
    }

    func authenticate(_ request: Request) throws(APIError) -> AuthenticatedKey {
        guard let presented = request.headers.bearerToken else {
            throw .invalidAPIKey("Missing API key. Pass it as 'Authorization: Bearer sk-porten-…'.")
        }
        let key: AuthenticatedKey?
        do {
            key = try store.authenticateKey(presented)
        } catch {
            throw .internalError("The key store is unavailable.")
        }
        guard let key else { throw .invalidAPIKey() }
        return key
    }
}

extension HTTPFields {
    /// The token of an `Authorization: Bearer …` header.
    var bearerToken: String? {
        guard let value = self[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
