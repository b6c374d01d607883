import Hummingbird
import OpenAIWire

/// `/v1`: resolves `Authorization: Bearer sk-porten-…` to a live key and puts it in the context,
/// or answers 401 before any handler runs.
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: any HubStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.apiKey = try await authenticate(request)
        return try await next(request, context)
    }

    func authenticate(_ request: Request) async throws(APIError) -> AuthenticatedKey {
        try await Self.authenticate(request.headers.bearerToken, store: store)
    }

    /// The live key `presented` (`401` when there is none, or it is revoked or its account disabled).
    static func authenticate(
        _ presented: String?, store: any HubStore, refusal: APIError = .invalidAPIKey()
    ) async throws(APIError) -> AuthenticatedKey {
        guard let presented else {
            throw .invalidAPIKey("Missing API key. Pass it as 'Authorization: Bearer sk-porten-…'.")
        }
        let key: AuthenticatedKey?
        do {
            key = try await store.authenticateKey(presented)
        } catch {
            throw .storeUnavailable("The key store")
        }
        guard let key else { throw refusal }
        return key
    }
}

extension HTTPFields {
    /// The token of an `Authorization: Bearer …` header (the scheme in any case, spaces around the token).
    var bearerToken: String? {
        guard let value = self[.authorization] else { return nil }
        let utf8 = value.utf8
        guard let space = utf8.firstIndex(of: UInt8(ascii: " ")),
            utf8[utf8.startIndex..<space].elementsEqual("bearer".utf8, by: { $0 | 0x20 == $1 })
        else { return nil }
        let isSpace: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        let rest = utf8[utf8.index(after: space)...]
        guard let first = rest.firstIndex(where: { !isSpace($0) }), let last = rest.lastIndex(where: { !isSpace($0) }) else { return nil }
        return String(value[first...last])
    }
}
