import Foundation
import Hummingbird
import OpenAIWire

extension AdminController {
    /// Mints an enrollment token for an account: `uses` machines (1…10,000, default 1) within
    /// `expires_in` seconds (default a day, at most a year), named `<name_prefix>-<n>`.
    func createEnrollmentToken(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let accountID = try fields.requiredString("account_id")
        let uses = try fields.int("uses", in: 1...10_000) ?? 1
        let lifetime = try fields.int("expires_in", in: 60...31_536_000) ?? 86_400
        let prefix = try Self.name(fields, "name_prefix", default: "node")
        guard prefix.count <= 40 else { throw APIError.invalidRequest("'name_prefix' is at most 40 characters.", param: "name_prefix") }
        do {
            let (token, plain) = try await services.store.createEnrollmentToken(
                accountID: accountID, namePrefix: prefix, usesAllowed: uses, lifetime: TimeInterval(lifetime))
            return JSONResponse.make(AdminViews.EnrollmentTokenView(token, plain: plain), status: .created)
        } catch StoreError.notFound {
            throw notFound("account", accountID, param: "account_id")
        }
    }

    func listEnrollmentTokens(_ request: Request, context: HubRequestContext) async throws -> Response {
        let tokens = try await services.store.enrollmentTokens(accountID: request.uri.queryParameters["account_id"].map(String.init))
        return JSONResponse.make(AdminViews.List(data: tokens.map { AdminViews.EnrollmentTokenView($0) }))
    }

    func revokeEnrollmentToken(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await services.store.revokeEnrollmentToken(id: id) else { throw notFound("live enrollment token", id) }
        return JSONResponse.make(["id": JSONValue.string(id), "revoked": true])
    }
}

extension AdminViews {
    struct EnrollmentTokenView: Encodable {
        var id: String
        var accountID: String
        var displayPrefix: String
        var namePrefix: String
        var usesAllowed: Int
        var uses: Int
        var createdAt: Date
        var expiresAt: Date
        var revokedAt: Date?
        /// The plain token: only in the response that created it.
        var token: String?

        init(_ token: EnrollmentToken, plain: String? = nil) {
            id = token.id
            accountID = token.accountID
            displayPrefix = token.displayPrefix
            namePrefix = token.namePrefix
            usesAllowed = token.usesAllowed
            uses = token.uses
            createdAt = token.createdAt
            expiresAt = token.expiresAt
            revokedAt = token.revokedAt
            self.token = plain
        }

        enum CodingKeys: String, CodingKey {
            case id, uses, token
            case accountID = "account_id", displayPrefix = "display_prefix", namePrefix = "name_prefix", usesAllowed = "uses_allowed"
            case createdAt = "created_at", expiresAt = "expires_at", revokedAt = "revoked_at"
        }
    }
}
