import Hummingbird
import OpenAIWire

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
