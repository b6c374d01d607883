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

/// `/admin/v1`: the operator token, compared in constant time, or 401.
struct OperatorTokenMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let adminToken: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Hashing both sides first makes the compare independent of the presented token's length.
        let presented = SecretToken.sha256(request.headers.bearerToken ?? "")
        guard SecretToken.constantTimeEquals(presented, SecretToken.sha256(adminToken)) else {
            throw APIError(status: 401, message: "Invalid operator token for the admin API.", type: "invalid_request_error", code: "invalid_admin_token")
        }
        return try await next(request, context)
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
