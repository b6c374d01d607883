import Foundation
import Hummingbird
import OpenAIWire

/// The Earn section: the account's nodes and what they serve (`/earn`), enrollment tokens
/// (`/earn/add`), and approving a `porten login` code (`/device`).
struct EarnController: Sendable {
    let services: HubServices
    let pages: PortalPages

    func addRoutes(earn: RouterGroup<HubRequestContext>, device: RouterGroup<HubRequestContext>) {
        earn.get("/", use: nodesPage)
        earn.get("add", use: tokensPage)
        earn.post("add", use: mintToken)
        earn.post("tokens/revoke", use: revokeToken)
        earn.post("payout-account", use: savePayoutAccount)
        device.get("/", use: devicePage)
        device.post("/", use: decide)
    }

    // MARK: Nodes

    struct NodesModel {
        var nodes: [Row]
        var hasNodes: Bool
        var base: String
        var csrf: String
        var currency: String
        var balance: String
        var monthEarnings: String
        var earnings: [Earning]
        var hasEarnings: Bool
        var payoutAccount: PayoutAccount?
        var payoutHistory: [AdminController.PayoutView]
        var hasPayouts: Bool
        var payoutError: String?
        var payoutSaved = false

        struct Earning {
            var day, node, model, amount: String
        }

        struct Row {
            var id, name, region, trustClass, engine: String
            var online: Bool
            var models: [String]
            var inFlight, today, month: Int
        }
    }

    func nodesPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        try await nodes(request, context)
    }

    private func nodes(_ request: Request, _ context: HubRequestContext, payoutError: String? = nil, payoutSaved: Bool = false) async throws
        -> Response
    {
        let account = context.portal!.account.id
        let now = Date()
        let monthStart = UTC.startOfMonth(now)
        await services.usage.flush()
        let today = try await services.store.tokensServed(accountID: account, since: UTC.startOfDay(now))
        let month = try await services.store.tokensServed(accountID: account, since: monthStart)
        let live = Dictionary((await services.registry.snapshot()).nodes.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        var rows: [NodesModel.Row] = []
        var names: [String: String] = [:]
        for node in try await services.store.nodes() where node.accountID == account {
            names[node.id] = node.name
            guard node.revokedAt == nil else { continue }
            let fleet = live[node.id]
            rows.append(
                .init(
                    id: node.id, name: node.name, region: node.region, trustClass: node.trustClass,
                    engine: await services.registry.connection(nodeID: node.id)?.hello.engine ?? "—", online: fleet != nil,
                    models: fleet?.models.filter(\.value.ready).keys.sorted() ?? [], inFlight: fleet?.inFlight ?? 0,
                    today: today[node.id] ?? 0, month: month[node.id] ?? 0))
        }
        let earnings = try await services.store.dailyEarnings(accountID: account, since: UTC.startOfDay(now) - 29 * 86_400)
        let monthEarned = try await services.store.dailyEarnings(accountID: account, since: monthStart).reduce(0) { $0 + $1.amount.micros }
        let payouts = try await services.store.payouts(period: nil, accountID: account).map(AdminController.PayoutView.init)
        let model = NodesModel(
            nodes: rows, hasNodes: !rows.isEmpty, base: PortalLinks.base(request, services.configuration), csrf: context.csrfToken,
            currency: services.configuration.currency, balance: try await services.store.balance(account).decimal(places: 2),
            monthEarnings: Money(micros: monthEarned).decimal(places: 2),
            earnings: earnings.map { .init(day: $0.day, node: names[$0.node] ?? $0.node, model: $0.model, amount: $0.amount.decimal(places: 4)) },
            hasEarnings: !earnings.isEmpty, payoutAccount: try await services.store.payoutAccount(accountID: account), payoutHistory: payouts,
            hasPayouts: !payouts.isEmpty, payoutError: payoutError, payoutSaved: payoutSaved)
        return pages.page("earn", title: "Earn", model: model, context: context, section: .earn, status: payoutError == nil ? .ok : .badRequest)
    }

    /// Where the account's earnings are paid; the IBAN's checksum is checked.
    func savePayoutAccount(_ request: Request, context: HubRequestContext) async throws -> Response {
        let form = context.form
        do {
            let (holder, iban, bic) = try AdminController.bankDetails(holder: form.text("holder") ?? "", iban: form.text("iban") ?? "", bic: form.text("bic") ?? "")
            _ = try await services.store.setPayoutAccount(accountID: context.portal!.account.id, holder: holder, iban: iban, bic: bic)
            return try await nodes(request, context, payoutSaved: true)
        } catch let error as APIError {
            return try await nodes(request, context, payoutError: error.message)
        }
    }

    // MARK: Enrollment tokens

    struct TokensModel {
        var csrf: String
        var base: String
        var tokens: [Row]
        var hasTokens: Bool
        var created: Created?
        var error: String?

        struct Row {
            var id, prefix, namePrefix, expires, state: String
            var uses, usesAllowed: Int
            var live: Bool
        }
        struct Created {
            var token: String
            var uses: Int
            var expires: String
        }
    }

    func tokensPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        try await tokens(request, context)
    }

    private func tokens(_ request: Request, _ context: HubRequestContext, created: TokensModel.Created? = nil, error: String? = nil) async throws
        -> Response
    {
        let now = Date()
        let rows = try await services.store.enrollmentTokens(accountID: context.portal!.account.id).map { token in
            let state = token.revokedAt != nil ? "revoked" : token.expiresAt <= now ? "expired" : token.uses >= token.usesAllowed ? "used up" : ""
            return TokensModel.Row(
                id: token.id, prefix: token.displayPrefix, namePrefix: token.namePrefix, expires: Self.time(token.expiresAt), state: state,
                uses: token.uses, usesAllowed: token.usesAllowed, live: state.isEmpty)
        }
        return pages.page(
            "earn-add", title: "Add nodes",
            model: TokensModel(
                csrf: context.csrfToken, base: PortalLinks.base(request, services.configuration), tokens: rows, hasTokens: !rows.isEmpty,
                created: created, error: error),
            context: context, section: .earn, status: error == nil ? .ok : .badRequest)
    }

    func mintToken(_ request: Request, context: HubRequestContext) async throws -> Response {
        let form = context.form
        guard let uses = form.text("uses").flatMap(Int.init), (1...10_000).contains(uses) else {
            return try await tokens(request, context, error: "Machines: a number from 1 to 10000.")
        }
        guard let hours = form.text("hours").flatMap(Int.init), (1...8760).contains(hours) else {
            return try await tokens(request, context, error: "Valid for: 1 to 8760 hours.")
        }
        let prefix = form.text("name_prefix") ?? "node"
        guard prefix.count <= 40, (try? AdminController.checkedName(prefix, param: "name_prefix")) != nil else {
            return try await tokens(request, context, error: "Name new nodes: 1 to 40 characters, without control characters.")
        }
        let (token, plain) = try await services.store.createEnrollmentToken(
            accountID: context.portal!.account.id, namePrefix: prefix, usesAllowed: uses, lifetime: Double(hours) * 3600)
        return try await tokens(request, context, created: .init(token: plain, uses: uses, expires: Self.time(token.expiresAt)))
    }

    func revokeToken(_ request: Request, context: HubRequestContext) async throws -> Response {
        guard let id = context.form["id"], try await services.store.revokeEnrollmentToken(id: id, accountID: context.portal!.account.id) else {
            throw PageError(status: .notFound, message: "No live enrollment token with that id in your account.", code: "not_found")
        }
        return .redirect(to: "/earn/add", type: .normal)
    }

    // MARK: Device approval

    struct DeviceModel {
        var csrf: String
        var typed = ""
        var error: String?
        var pending: Pending?

        struct Pending {
            var userCode, machineName, account, region, trustClass: String
        }
    }

    func devicePage(_ request: Request, context: HubRequestContext) async throws -> Response {
        var model = DeviceModel(csrf: context.csrfToken)
        guard let typed = request.uri.queryParameters["user_code"].map(String.init), !typed.isEmpty else {
            return pages.page("device", title: "Connect a machine", model: model, context: context, section: .earn)
        }
        model.typed = typed
        guard let authorization = try await lookUp(typed, context: context, model: &model) else {
            return pages.page("device", title: "Connect a machine", model: model, context: context, section: .earn, status: .badRequest)
        }
        let policy = services.configuration.enrollmentPolicy
        model.pending = .init(
            userCode: authorization.userCode, machineName: authorization.machineName, account: context.portal!.account.name,
            region: policy.region, trustClass: policy.trustClass)
        return pages.page("device", title: "Connect a machine", model: model, context: context, section: .earn)
    }

    struct DoneModel {
        var heading, message, style: String
    }

    func decide(_ request: Request, context: HubRequestContext) async throws -> Response {
        let form = context.form
        var model = DeviceModel(csrf: context.csrfToken, typed: form["user_code"] ?? "")
        guard let authorization = try await lookUp(form["user_code"] ?? "", context: context, model: &model) else {
            return pages.page("device", title: "Connect a machine", model: model, context: context, section: .earn, status: .badRequest)
        }
        let approve = form["decision"] == "approve"
        let name: String
        do {
            name = try AdminController.checkedName(form.text("name") ?? authorization.machineName, param: "name")
        } catch {
            model.error = error.message
            return pages.page("device", title: "Connect a machine", model: model, context: context, section: .earn, status: .badRequest)
        }
        let user = context.portal!.user
        guard try await services.store.decideDeviceAuthorization(userCode: authorization.userCode, approve: approve, by: user, machineName: name) != nil
        else { throw Self.deadCode }
        services.logger.info("device code \(approve ? "approved" : "denied") by \(user.email) for machine \(name)")
        let done =
            approve
            ? DoneModel(heading: "Machine approved", message: "“\(name)” will connect as a node of \(context.portal!.account.name) in a few seconds.", style: "notice")
            : DoneModel(heading: "Machine denied", message: "“\(name)” was refused; it cannot use this code again.", style: "error")
        return pages.page("device-done", title: done.heading, model: done, context: context, section: .earn)
    }

    static let deadCode = PageError(
        status: .badRequest, message: "This code is not valid: it expired, was already used, or was mistyped. Run porten login again for a new one.",
        code: "invalid_code")

    /// The pending authorization a typed code names. Wrong codes count against the person (and
    /// their address); a right code takes nothing back: after 5, each further try waits, so codes
    /// cannot be guessed from the portal.
    private func lookUp(_ typed: String, context: HubRequestContext, model: inout DeviceModel) async throws -> DeviceAuthorization? {
        let throttle = services.codeGuesses
        let person = context.portal!.user.id
        if let wait = throttle.waiting(email: person, address: context.remoteAddress) {
            model.error = "Too many wrong codes. Try again in \(Int(wait.rounded(.up))) seconds."
            return nil
        }
        guard let code = UserCode.normalized(typed), let authorization = try await services.store.pendingDeviceAuthorization(userCode: code)
        else {
            throttle.fail(email: person, address: context.remoteAddress)
            model.error = Self.deadCode.message
            return nil
        }
        return authorization
    }

    /// `2026-11-30 17:05 UTC`.
    static func time(_ date: Date) -> String { UTC.format(date, "yyyy-MM-dd HH:mm 'UTC'") }
}
