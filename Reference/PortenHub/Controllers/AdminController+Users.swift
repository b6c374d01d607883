import Hummingbird
import OpenAIWire

extension AdminController {
    /// Creates a portal user and a one-time link to set their password. Without `account_id`
    /// the user gets a new account (named after them) and owns it.
    func createUser(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let email = try EmailAddress.validated(try fields.requiredString("email"), param: "email")
        let displayName = try Self.name(fields, "display_name", default: EmailAddress.localPart(email))
        let isOperator = try fields.bool("operator") ?? false
        let accountID = try fields.string("account_id")
        let role = try fields.oneOf("role", User.Role.allCases.map(\.rawValue)).flatMap(User.Role.init(rawValue:))
            ?? (accountID == nil ? .owner : .member)
        do {
            let user = try await services.store.createUser(
                accountID: accountID, email: email, displayName: displayName, role: role, isOperator: isOperator)
            let link = try await services.store.createPasswordLink(userID: user.id)
            return JSONResponse.make(
                AdminViews.UserView(user, setPasswordURL: PortalLinks.base(request, services.configuration) + "/set-password?token=" + link),
                status: .created)
        } catch StoreError.notFound {
            throw notFound("account", accountID ?? "", param: "account_id")
        } catch StoreError.conflict {
            throw APIError(status: 409, message: "A user with email '\(email)' already exists.", type: "invalid_request_error", param: "email", code: "already_exists")
        }
    }

    func listUsers(_ request: Request, context: HubRequestContext) async throws -> Response {
        let users = try await services.store.users(accountID: request.uri.queryParameters["account_id"].map(String.init))
        return JSONResponse.make(AdminViews.List(data: users.map { AdminViews.UserView($0) }))
    }
}

/// Email addresses as sign-in names: trimmed, lowercased, one `@` with something on both sides
/// and a dot in the domain, at most 254 characters, no spaces or control characters.
enum EmailAddress {
    static func validated(_ text: String, param: String) throws(APIError) -> String {
        let email = text.trimmingCharacters(in: .whitespaces).lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), email.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && !$0.properties.isWhitespace })
        else {
            throw .invalidRequest("Invalid '\(param)': expected an email address such as 'ada@example.com'.", param: param)
        }
        return email
    }

    static func localPart(_ email: String) -> String { String(email.split(separator: "@").first ?? "user") }
}

/// Absolute links the Hub hands out (set-password links): `--public-url` when the operator set
/// one, else the scheme and Host of the request.
enum PortalLinks {
    static func base(_ request: Request, _ configuration: HubConfiguration) -> String {
        if var url = configuration.publicURL {
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        let scheme = request.headers[.init("X-Forwarded-Proto")!] == "https" ? "https" : "http"
        return scheme + "://" + (request.head.authority ?? "127.0.0.1:\(configuration.port)")
    }
}
