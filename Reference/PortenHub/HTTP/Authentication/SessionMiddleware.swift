import Foundation
import Hummingbird
import OpenAIWire

/// Portal routes: finds the browser's session (cookie `porten_session`) and puts who is signed in
/// in the context; gives a browser without one a `porten_csrf` cookie for the sign-in forms; and
/// refuses any state-changing request whose CSRF token (form field `csrf` or header
/// `X-CSRF-Token`) is not the session's (or, before sign-in, the cookie's). Form bodies are read
/// here (at most 64 KiB) into `context.form`. Errors reaching a browser become pages
/// (`PortalErrorPage`), shown to whoever is signed in.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = HubRequestContext
    let store: any HubStore
    let configuration: HubConfiguration
    var pages: PortalPages? = nil

    static let sessionCookie = "porten_session"
    static let csrfCookie = "porten_csrf"
    static let maximumFormSize = 64 << 10

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var request = request
        if let token = request.cookies[Self.sessionCookie]?.value {
            do {
                context.portal = try await store.session(token)
            } catch {
                throw APIError.storeUnavailable("The session store")
            }
        }
        let preSession = request.cookies[Self.csrfCookie]?.value.filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
        let issuedCookie = context.portal == nil && (preSession?.count ?? 0) != 32
        context.csrfToken = context.portal?.csrfToken ?? (issuedCookie ? SecretToken.randomBase62(count: 32) : preSession!)

        var response: Response
        do {
            try await checkForm(&request, &context, issuedCookie: issuedCookie)
            response = try await next(request, context)
        } catch {
            guard let pages else { throw error }
            response = try PortalErrorPage.response(for: error, request: request, context: context, pages: pages)
        }
        if issuedCookie {
            response.setCookie(cookie(Self.csrfCookie, context.csrfToken, request: request, maxAge: 86_400, sameSite: .strict))
        }
        return response
    }

    /// Reads a form body into the context and checks the CSRF token of a state-changing request.
    private func checkForm(_ request: inout Request, _ context: inout Context, issuedCookie: Bool) async throws {
        guard ![.get, .head, .options].contains(request.method) else { return }
        if request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: Self.maximumFormSize)
            } catch {
                throw PageError(status: .contentTooLarge, message: "The form is larger than \(Self.maximumFormSize / 1024) KiB.")
            }
            context.form = FormFields(urlEncoded: String(buffer: body))
        }
        let presented = request.headers[.init("X-CSRF-Token")!] ?? context.form["csrf"] ?? ""
        guard !issuedCookie, SecretToken.constantTimeEquals(SecretToken.sha256(presented), SecretToken.sha256(context.csrfToken)) else {
            throw PageError(
                status: .forbidden, message: "This form expired or did not come from this site. Reload the page and try again.",
                code: "csrf_failed")
        }
    }

    /// A cookie with the portal's flags: `HttpOnly`, `Path=/`, `SameSite`, and `Secure` behind TLS.
    func cookie(_ name: String, _ value: String, request: Request, maxAge: Int, sameSite: Cookie.SameSite = .lax) -> Cookie {
        Cookie(
            name: name, value: value, maxAge: maxAge, path: "/", secure: Self.isSecure(request, configuration), httpOnly: true,
            sameSite: sameSite)
    }

    /// Whether the browser reached the Hub over TLS: `--public-url https://…`, or a proxy's
    /// `X-Forwarded-Proto: https`.
    static func isSecure(_ request: Request, _ configuration: HubConfiguration) -> Bool {
        if let url = configuration.publicURL { return url.lowercased().hasPrefix("https://") }
        return request.headers[.init("X-Forwarded-Proto")!]?.lowercased() == "https"
    }
}

/// Pages for signed-in people: without a session a page redirects to `/signin?next=…` (a script
/// call gets 401); `operatorOnly` pages answer 403 to anyone but an operator.
struct RequireSignIn: RouterMiddleware {
    typealias Context = HubRequestContext
    var operatorOnly = false

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let portal = context.portal else {
            if request.method == .get {
                let next = request.uri.path + (request.uri.query.map { "?" + $0 } ?? "")
                return .redirect(to: "/signin?next=" + (next.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "/"), type: .normal)
            }
            throw PageError(status: .unauthorized, message: "Your session ended. Sign in again.", code: "not_signed_in")
        }
        guard !operatorOnly || portal.user.isOperator else {
            throw PageError(status: .forbidden, message: "This page is for the Hub's operators.", code: "operator_only")
        }
        return try await next(request, context)
    }
}

/// An error a portal page shows as a page (to a script: an OpenAI-shaped JSON error).
struct PageError: Error {
    var status: HTTPResponse.Status
    var message: String
    var code = "portal_error"
}
