import Foundation
import Hummingbird
import NIOPosix
import OpenAIWire

/// Sign-in, sign-out, the one-time set-password link and (with `--allow-signup`) sign-up.
struct SignInController: Sendable {
    let services: HubServices
    let pages: PortalPages
    let throttle: SignInThrottle
    var hasher = PasswordHasher.standard

    func addRoutes(to group: RouterGroup<HubRequestContext>) {
        group.get("/", use: home)
        group.get("signin", use: signInPage)
        group.post("signin", use: signIn)
        group.post("signout", use: signOut)
        group.get("set-password", use: setPasswordPage)
        group.post("set-password", use: setPassword)
        group.get("signup", use: signUpPage)
        group.post("signup", use: signUp)
    }

    struct SignInModel {
        var csrf: String
        var email = ""
        var next = ""
        var error: String?
        var notice: String?
        var signupAllowed: Bool
    }

    func home(_ request: Request, context: HubRequestContext) async throws -> Response {
        .redirect(to: context.portal == nil ? "/signin" : "/build/playground", type: .normal)
    }

    func signInPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        if context.portal != nil { return .redirect(to: Self.safeNext(request.uri.queryParameters["next"].map(String.init)), type: .normal) }
        return pages.page(
            "signin", title: "Sign in",
            model: SignInModel(
                csrf: context.csrfToken, next: request.uri.queryParameters["next"].map(String.init) ?? "",
                notice: request.uri.queryParameters["signed_out"] != nil ? "You are signed out." : nil,
                signupAllowed: services.configuration.allowSignup),
            context: context)
    }

    func signIn(_ request: Request, context: HubRequestContext) async throws -> Response {
        let email = (context.form.text("email") ?? "").lowercased()
        let password = context.form["password"] ?? ""
        var model = SignInModel(
            csrf: context.csrfToken, email: email, next: context.form["next"] ?? "", signupAllowed: services.configuration.allowSignup)
        if let wait = throttle.admit(email: email, address: context.remoteAddress) {
            model.error = "Too many failed sign-ins. Try again in \(Int(wait.rounded(.up))) seconds."
            var response = pages.page("signin", title: "Sign in", model: model, context: context, status: .tooManyRequests)
            response.headers[.retryAfter] = String(Int(wait.rounded(.up)))
            return response
        }
        let user = try await services.store.user(email: email)
        let stored = user.flatMap { $0.disabledAt == nil ? $0.passwordHash : nil }
        let hasher = hasher
        let matches = try await offLoop {
            guard let stored else {
                hasher.burn(password)
                return false
            }
            return PasswordHasher.verify(password, against: stored)
        }
        guard matches, let user, try await services.store.account(id: user.accountID)?.disabledAt == nil else {
            model.error = "Wrong email or password."
            return pages.page("signin", title: "Sign in", model: model, context: context, status: .unauthorized)
        }
        throttle.succeeded(email: email, address: context.remoteAddress)
        return try await startSession(for: user, request: request, then: Self.safeNext(context.form["next"]))
    }

    func signOut(_ request: Request, context: HubRequestContext) async throws -> Response {
        if let token = request.cookies[SessionMiddleware.sessionCookie]?.value { try await services.store.deleteSession(token) }
        var response = Response.redirect(to: "/signin?signed_out=1", type: .normal)
        response.setCookie(session.cookie(SessionMiddleware.sessionCookie, "", request: request, maxAge: 0))
        return response
    }

    // MARK: Set password

    struct SetPasswordModel {
        var csrf: String
        var token: String
        var email: String
        var error: String?
    }

    func setPasswordPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let token = request.uri.queryParameters["token"].map(String.init) ?? ""
        guard let user = try await services.store.passwordLinkUser(token) else { throw Self.deadLink }
        return pages.page(
            "set-password", title: "Set your password", model: SetPasswordModel(csrf: context.csrfToken, token: token, email: user.email),
            context: context)
    }

    func setPassword(_ request: Request, context: HubRequestContext) async throws -> Response {
        let token = context.form["token"] ?? ""
        guard let user = try await services.store.passwordLinkUser(token) else { throw Self.deadLink }
        let password = context.form["password"] ?? ""
        if let problem = Self.passwordProblem(password, repeat: context.form["repeat"]) {
            return pages.page(
                "set-password", title: "Set your password",
                model: SetPasswordModel(csrf: context.csrfToken, token: token, email: user.email, error: problem), context: context,
                status: .badRequest)
        }
        let hash = try await hashOffLoop(password)
        guard let updated = try await services.store.usePasswordLink(token, passwordHash: hash) else { throw Self.deadLink }
        return try await startSession(for: updated, request: request, then: "/build/playground")
    }

    static let deadLink = PageError(
        status: .gone, message: "This link is not valid: it was used already, it expired, or it was mistyped. Ask your operator for a new one.",
        code: "invalid_link")

    // MARK: Sign up

    struct SignUpModel {
        var csrf: String
        var email = ""
        var displayName = ""
        var error: String?
    }

    func signUpPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        guard services.configuration.allowSignup else { throw Self.signUpClosed }
        return pages.page("signup", title: "Create an account", model: SignUpModel(csrf: context.csrfToken), context: context)
    }

    func signUp(_ request: Request, context: HubRequestContext) async throws -> Response {
        guard services.configuration.allowSignup else { throw Self.signUpClosed }
        var model = SignUpModel(csrf: context.csrfToken, email: context.form.text("email") ?? "", displayName: context.form.text("display_name") ?? "")
        let password = context.form["password"] ?? ""
        // Sign-ups count against the address like failed sign-ins: 20 per 15 minutes, then slower.
        if let wait = throttle.admit(email: nil, address: context.remoteAddress) {
            throw PageError(status: .tooManyRequests, message: "Too many attempts from your address. Try again in \(Int(wait.rounded(.up))) seconds.")
        }
        do {
            let email = try EmailAddress.validated(model.email, param: "email")
            let name = try AdminController.checkedName(model.displayName, param: "display_name")
            if let problem = Self.passwordProblem(password, repeat: nil) { throw APIError.invalidRequest(problem, param: "password") }
            let user = try await services.store.signUp(email: email, displayName: name, passwordHash: try await hashOffLoop(password))
            return try await startSession(for: user, request: request, then: "/build/keys")
        } catch let error as APIError {
            model.error = error.message
        } catch StoreError.conflict {
            model.error = "There is already an account for this email. Sign in instead."
        }
        return pages.page("signup", title: "Create an account", model: model, context: context, status: .badRequest)
    }

    static let signUpClosed = PageError(
        status: .notFound, message: "Sign-up is closed on this Hub. Ask its operator for an account.", code: "signup_closed")

    // MARK: Helpers

    var session: SessionMiddleware { SessionMiddleware(store: services.store, configuration: services.configuration) }

    /// Opens a session and sends the browser on with its cookie.
    private func startSession(for user: User, request: Request, then next: String) async throws -> Response {
        let lifetime = services.configuration.sessionLifetime
        let token = try await services.store.createSession(userID: user.id, lifetime: TimeInterval(lifetime / .seconds(1)))
        var response = Response.redirect(to: next, type: .normal)
        response.setCookie(session.cookie(SessionMiddleware.sessionCookie, token, request: request, maxAge: Int(lifetime / .seconds(1))))
        return response
    }

    private func hashOffLoop(_ password: String) async throws -> String {
        let hasher = hasher
        return try await offLoop { hasher.hash(password) }
    }

    /// Password hashing, on NIO's thread pool (never an event loop) and in one of the throttle's
    /// few slots: when all are busy the request is refused at once rather than queued.
    private func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        guard throttle.startHashing() else {
            throw PageError(status: .tooManyRequests, message: "Too many sign-ins at once. Try again in a moment.", code: "busy")
        }
        defer { throttle.endHashing() }
        return try await NIOThreadPool.singleton.runIfActive(work)
    }

    static func passwordProblem(_ password: String, repeat repeated: String?) -> String? {
        if !PasswordHasher.lengths.contains(password.count) {
            return "Use a password of \(PasswordHasher.lengths.lowerBound) to \(PasswordHasher.lengths.upperBound) characters."
        }
        if let repeated, repeated != password { return "The two passwords differ." }
        return nil
    }

    /// Where to go after signing in: a path on this site only (never `//host` or a full URL).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"),
            next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return "/build/playground" }
        return next
    }
}
