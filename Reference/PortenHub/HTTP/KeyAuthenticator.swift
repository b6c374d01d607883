import Hummingbird
import OpenAIWire

/// Resolves `Authorization: Bearer sk-porten-…` to a live key, or fails with 401.
struct KeyAuthenticator: Sendable {
    let store: HubStore

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
