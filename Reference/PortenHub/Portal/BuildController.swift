import Foundation
import Hummingbird
import OpenAIWire

/// The Build section: API keys, the playground and usage, for the signed-in user's account.
struct BuildController: Sendable {
    let services: HubServices
    let pages: PortalPages

    func addRoutes(to group: RouterGroup<HubRequestContext>) {
        group.get("/", use: { _, _ in Response.redirect(to: "/build/playground", type: .normal) })
        group.get("keys", use: keysPage)
        group.post("keys", use: createKey)
        group.post("keys/:id/revoke", use: revokeKey)
        group.get("playground", use: playgroundPage)
        group.post("api/chat/completions", use: playgroundChat)
        group.get("usage", use: usagePage)
    }

    // MARK: Keys

    struct KeysModel {
        var csrf: String
        var keys: [KeyRow]
        var hasKeys: Bool
        var regions: [Option]
        var models: [Option]
        var trustClasses: [Option]
        var form = FormValues()
        var error: String?
        var created: Created?
        var baseURL: String

        struct KeyRow {
            var id, name, prefix, created: String
            var policy: [String]
            var revoked: Bool
            var revokedAt: String
        }
        struct FormValues {
            var name = ""
            var rpm = ""
            var tpm = ""
            var ownNodesOnly = false
        }
        struct Created {
            var name: String
            var key: String
            var baseURL: String
        }
    }

    struct Option {
        var value: String
        var label: String
        var checked: Bool
    }

    func keysPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        try await keys(context, request: request)
    }

    private func keys(
        _ context: HubRequestContext, request: Request, form: FormFields = FormFields(), error: String? = nil, created: KeysModel.Created? = nil
    ) async throws -> Response {
        let account = context.portal!.account
        let rows = try await services.store.keys(accountID: account.id).filter { $0.purpose == "api" }.reversed().map { key in
            KeysModel.KeyRow(
                id: key.id, name: key.name, prefix: key.displayPrefix, created: Self.day(key.createdAt), policy: Self.summary(key.policy),
                revoked: key.revokedAt != nil, revokedAt: key.revokedAt.map(Self.day) ?? "")
        }
        var regions = Set(["eu", "us"])
        for node in try await services.store.nodes() { regions.insert(node.region) }
        let chosenRegions = Set(form.all("region"))
        let chosenModels = Set(form.all("model"))
        let keep = created == nil
        var model = KeysModel(
            csrf: context.csrfToken, keys: Array(rows), hasKeys: !rows.isEmpty,
            regions: regions.sorted().map { Option(value: $0, label: $0, checked: keep && chosenRegions.contains($0)) },
            models: services.catalog.offeredModels.map { Option(value: $0.id, label: $0.id, checked: keep && chosenModels.contains($0.id)) },
            trustClasses: [Option(value: "", label: "any", checked: false)]
                + TrustClass.allCases.map { Option(value: $0.rawValue, label: $0.rawValue, checked: keep && form["min_trust_class"] == $0.rawValue) },
            error: error, created: created, baseURL: PortalLinks.base(request, services.configuration) + "/v1")
        if keep {
            model.form = .init(
                name: form["name"] ?? "", rpm: form["requests_per_minute"] ?? "", tpm: form["tokens_per_minute"] ?? "",
                ownNodesOnly: form["own_nodes_only"] != nil)
        }
        return pages.page(
            "keys", title: "API keys", model: model, context: context, section: .keys, status: error == nil ? .ok : .badRequest)
    }

    /// Creates a key from the form, with the same policy fields and checks as the admin API.
    func createKey(_ request: Request, context: HubRequestContext) async throws -> Response {
        let form = context.form
        do {
            let name = try AdminController.checkedName(form.text("name") ?? "", param: "name")
            let policy = try KeyPolicyFields.parse(try RequestFields(Self.policyJSON(form)), base: .unrestricted)
            for model in policy.modelAllowlist ?? [] where services.catalog.offered(model) == nil {
                throw APIError.invalidRequest("Unknown model '\(model)'.", param: "model_allowlist")
            }
            let (_, token) = try await services.store.createKey(accountID: context.portal!.account.id, name: name, policy: policy)
            return try await keys(
                context, request: request,
                created: .init(name: name, key: token.plain, baseURL: PortalLinks.base(request, services.configuration) + "/v1"))
        } catch let error as APIError {
            return try await keys(context, request: request, form: form, error: error.message)
        }
    }

    /// The form's policy fields as the admin API's JSON: unchecked lists and blank limits mean
    /// "no restriction".
    static func policyJSON(_ form: FormFields) -> JSONValue {
        var object: [String: JSONValue] = [:]
        let regions = form.all("region").filter { !$0.isEmpty }
        object["allowed_regions"] = regions.isEmpty ? .null : .array(regions.map(JSONValue.string))
        let models = form.all("model").filter { !$0.isEmpty }
        object["model_allowlist"] = models.isEmpty ? .null : .array(models.map(JSONValue.string))
        object["own_nodes_only"] = .bool(form["own_nodes_only"] != nil)
        object["min_trust_class"] = form.text("min_trust_class").map(JSONValue.string) ?? .null
        for field in ["requests_per_minute", "tokens_per_minute"] {
            guard let text = form.text(field) else { continue }
            object[field] = Int(text).map(JSONValue.int) ?? .string(text)
        }
        return .object(object)
    }

    func revokeKey(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let key = try await services.store.keys(accountID: context.portal!.account.id).first(where: { $0.id == id && $0.purpose == "api" })
        else { throw PageError(status: .notFound, message: "No key '\(id)' in your account.", code: "not_found") }
        try await services.store.revokeKey(id: key.id)
        return .redirect(to: "/build/keys", type: .normal)
    }

    static func summary(_ policy: KeyPolicy) -> [String] {
        var parts: [String] = []
        if let regions = policy.allowedRegions { parts.append("region " + regions.joined(separator: ", ")) }
        if policy.ownNodesOnly { parts.append("my nodes only") }
        if let trust = policy.minTrustClass { parts.append("≥ \(trust.rawValue)") }
        if let models = policy.modelAllowlist { parts.append("models " + models.joined(separator: ", ")) }
        if let rpm = policy.requestsPerMinute { parts.append("\(rpm) req/min") }
        if let tpm = policy.tokensPerMinute { parts.append("\(tpm) tok/min") }
        return parts
    }

    // MARK: Playground

    struct PlaygroundModel {
        var models: [Option]
        var baseURL: String
    }

    func playgroundPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let ready = await services.registry.readyModels()
        let chatModels = services.catalog.offeredModels.filter { $0.type == .chat }
        let wanted = request.uri.queryParameters["model"].map(String.init)
        let options = chatModels.map { model in
            Option(
                value: model.id, label: model.id + (ready.contains(model.id) ? "" : " (cold: loads on first use)"),
                checked: model.id == wanted)
        }
        return pages.page(
            "playground", title: "Playground",
            model: PlaygroundModel(models: options, baseURL: PortalLinks.base(request, services.configuration) + "/v1"), context: context,
            section: .playground, scripts: ["playground.js"])
    }

    /// The playground's calls: `/v1/chat/completions` with the account's playground key, so they
    /// are validated, routed, limited and metered exactly like an SDK's.
    func playgroundChat(_ request: Request, context: HubRequestContext) async throws -> Response {
        var context = context
        context.apiKey = try await services.store.playgroundKey(accountID: context.portal!.account.id)
        return try await ChatCompletionsController(services: services).create(request, context: context)
    }

    // MARK: Usage

    struct UsageModel {
        var days: Int
        var rows: [Row]
        var currency = "EUR"
        var hasData: Bool
        var totals: Totals
        var chart: Chart

        struct Totals {
            var requests = 0
            var promptTokens = 0
            var completionTokens = 0
            var cost = ""
        }
        struct Row {
            var day, model, cost: String
            var requests, promptTokens, completionTokens: Int
        }
        struct Chart {
            var width = 600
            var height = 200
            var bars: [Bar] = []
            var first = ""
            var last = ""
            var max = 0
        }
        struct Bar {
            var day: String
            var tokens: Int
            var requests: Int
            var x, y, width, height: Int
        }
    }

    func usagePage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let days = 30
        await services.usage.flush()
        let since = UTC.startOfDay(Date()).addingTimeInterval(-Double(days - 1) * 86_400)
        let rows = try await services.store.dailyUsage(accountID: context.portal!.account.id, since: since)
        var model = Self.usageModel(rows, days: days, since: since)
        model.currency = services.configuration.currency
        return pages.page("usage", title: "Usage", model: model, context: context, section: .usage)
    }

    /// The page's totals and a bar per day (tokens), every day of the range present.
    static func usageModel(_ rows: [DailyUsage], days: Int, since: Date) -> UsageModel {
        var totals = UsageModel.Totals()
        var perDay: [String: (tokens: Int, requests: Int)] = [:]
        totals.cost = Money(micros: rows.reduce(0) { $0 + $1.cost }).decimal(places: 2)
        for row in rows {
            totals.requests += row.requests
            totals.promptTokens += row.promptTokens
            totals.completionTokens += row.completionTokens
            perDay[row.day, default: (0, 0)].tokens += row.promptTokens + row.completionTokens
            perDay[row.day, default: (0, 0)].requests += row.requests
        }
        var chart = UsageModel.Chart()
        let labels = (0..<days).map { day(since.addingTimeInterval(Double($0) * 86_400)) }
        chart.max = perDay.values.map(\.tokens).max() ?? 0
        let slot = chart.width / days
        for (index, label) in labels.enumerated() {
            let value = perDay[label] ?? (0, 0)
            let height = chart.max == 0 ? 0 : max(value.tokens > 0 ? 2 : 0, value.tokens * (chart.height - 4) / chart.max)
            chart.bars.append(
                .init(day: label, tokens: value.tokens, requests: value.requests, x: index * slot + 1, y: chart.height - height, width: slot - 2, height: height))
        }
        chart.first = labels.first ?? ""
        chart.last = labels.last ?? ""
        return UsageModel(
            days: days,
            rows: rows.reversed().map {
                .init(day: $0.day, model: $0.model, cost: Money(micros: $0.cost).decimal(places: 4), requests: $0.requests, promptTokens: $0.promptTokens,
                      completionTokens: $0.completionTokens)
            }, hasData: !rows.isEmpty, totals: totals, chart: chart)
    }

    /// `YYYY-MM-DD` in UTC.
    static func day(_ date: Date) -> String { UTC.format(date, "yyyy-MM-dd") }
}
