import Foundation
import Hummingbird
import NodeProtocol
import OpenAIWire

/// `/admin`: the operator's pages — fleet, catalog, nodes, accounts and users.
struct OperatorPagesController: Sendable {
    let services: HubServices
    let pages: PortalPages

    func addRoutes(to group: RouterGroup<HubRequestContext>) {
        group.get("/", use: fleetPage)
        group.get("catalog", use: catalogPage)
        group.post("catalog", use: switchModel)
        group.get("nodes", use: nodesPage)
        group.get("accounts", use: accountsPage)
        group.post("users", use: createUser)
    }

    // MARK: Fleet

    struct FleetModel {
        var connected: Int
        var demandWindow: Int
        var nodes: [Node]
        var loads: [Load]
        var demand: [Demand]

        struct Node {
            var id, name, region, trustClass: String
            var inFlight, concurrency, vramUsed: Int
            var vramBudget: Int?
            var models: [Model]
            var ejected: [String]
        }
        struct Model {
            var id, state: String
            var pct: Int?
            var vram, inFlight: Int
        }
        struct Load {
            var model, node, phase: String
            var pct: Int
        }
        struct Demand {
            var model: String
            var requests, queued, longestWaitMS: Int
        }
    }

    func fleetPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let snapshot = await services.registry.snapshot()
        let records = Dictionary(try await services.store.nodes().map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        let nodes = snapshot.nodes.map { node in
            let view = AdminViews.FleetView.Node(node, loads: snapshot.loads[node.id] ?? [:], ejected: snapshot.ejected[node.id] ?? [:])
            return FleetModel.Node(
                id: node.id, name: records[node.id]?.name ?? node.id, region: node.region, trustClass: node.trustClass.rawValue,
                inFlight: view.inFlight, concurrency: view.concurrency, vramUsed: view.vramUsedMB, vramBudget: view.vramBudgetMB,
                models: view.models.map { .init(id: $0.id, state: $0.state, pct: $0.pct, vram: $0.vramMB, inFlight: $0.inFlight) },
                ejected: view.ejectedMS.sorted { $0.key < $1.key }.map { "\($0.key) for \($0.value / 1000 + 1) s" })
        }
        let loads = snapshot.loads.sorted { $0.key < $1.key }.flatMap { node, loads in
            loads.sorted { $0.key < $1.key }.map { FleetModel.Load(model: $0.key, node: records[node]?.name ?? node, phase: $0.value.phase.rawValue, pct: $0.value.percent) }
        }
        let models = Set(snapshot.demand.keys).union(snapshot.queues.keys).sorted()
        let demand = models.map { model in
            FleetModel.Demand(
                model: model, requests: snapshot.demand[model] ?? 0, queued: snapshot.queues[model]?.depth ?? 0,
                longestWaitMS: snapshot.queues[model].map(\.longestWait.wholeMilliseconds) ?? 0)
        }
        return pages.page(
            "admin-fleet", title: "Fleet",
            model: FleetModel(
                connected: nodes.count, demandWindow: Int(services.configuration.demandWindow / .seconds(1)), nodes: nodes, loads: loads,
                demand: demand),
            context: context, section: .adminFleet)
    }

    // MARK: Catalog

    struct CatalogPage {
        var csrf: String
        var models: [Row]
        var error: String?

        struct Row {
            var id, type: String
            var vram, disk, ctx: Int
            var capabilities: [String]
            var enabled: Bool
        }
    }

    func catalogPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let rows = services.catalog.models.map { model in
            CatalogPage.Row(
                id: model.id, type: model.type.rawValue, vram: model.vramMB, disk: model.diskMB, ctx: model.ctx,
                capabilities: model.capabilities.sorted(), enabled: model.enabled)
        }
        return pages.page("admin-catalog", title: "Catalog", model: CatalogPage(csrf: context.csrfToken, models: rows), context: context, section: .adminCatalog)
    }

    /// Enables or disables a model for every key at once; the choice is stored and outlives restarts.
    func switchModel(_ request: Request, context: HubRequestContext) async throws -> Response {
        // The id travels in the form, not the path: catalog ids may hold '/', spaces or '..'.
        let id = context.form["model"] ?? ""
        guard let enabled = context.form["enabled"].flatMap(Bool.init), services.catalog.models.contains(where: { $0.id == id }) else {
            throw PageError(status: .badRequest, message: "Choose a catalog model and whether to enable it.", code: "invalid_form")
        }
        try await services.store.setModelEnabled(id, enabled)
        services.liveCatalog.setEnabled(id, enabled)
        services.logger.info("catalog model \(id) \(enabled ? "enabled" : "disabled") by \(context.portal!.user.email)")
        return .redirect(to: "/admin/catalog", type: .normal)
    }

    // MARK: Nodes

    struct NodesModel {
        var nodes: [Row]

        struct Row {
            var id, name, account, region, trustClass: String
            var connected, revoked: Bool
            var inFlight: Int
            var models: [String]
        }
    }

    func nodesPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        let snapshot = await services.registry.snapshot()
        let live = Dictionary(snapshot.nodes.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
        let accounts = Dictionary(try await services.store.accounts().map { ($0.id, $0.name) }, uniquingKeysWith: { $1 })
        let rows = try await services.store.nodes().map { node in
            NodesModel.Row(
                id: node.id, name: node.name, account: accounts[node.accountID] ?? node.accountID, region: node.region,
                trustClass: node.trustClass, connected: live[node.id] != nil, revoked: node.revokedAt != nil,
                inFlight: live[node.id]?.inFlight ?? 0, models: live[node.id]?.models.keys.sorted() ?? [])
        }
        return pages.page("admin-nodes", title: "Nodes", model: NodesModel(nodes: rows), context: context, section: .adminNodes)
    }

    // MARK: Accounts and users

    struct AccountsModel {
        var csrf: String
        var accounts: [Row]
        var created: Created?
        var error: String?

        struct Row {
            var id, name: String
            var disabled: Bool
            var keys, nodes: Int
            var users: [AdminViews.UserView]
            var hasUsers: Bool
        }
        struct Created {
            var email: String
            var link: String
        }
    }

    func accountsPage(_ request: Request, context: HubRequestContext) async throws -> Response {
        try await accounts(context)
    }

    private func accounts(_ context: HubRequestContext, created: AccountsModel.Created? = nil, error: String? = nil) async throws -> Response {
        let users = Dictionary(grouping: try await services.store.users(), by: \.accountID)
        let keys = Dictionary(grouping: try await services.store.keys().filter { $0.purpose == "api" && $0.revokedAt == nil }, by: \.accountID)
        let nodes = Dictionary(grouping: try await services.store.nodes().filter { $0.revokedAt == nil }, by: \.accountID)
        let rows = try await services.store.accounts().map { account in
            AccountsModel.Row(
                id: account.id, name: account.name, disabled: account.disabledAt != nil, keys: keys[account.id]?.count ?? 0,
                nodes: nodes[account.id]?.count ?? 0, users: (users[account.id] ?? []).map { AdminViews.UserView($0) },
                hasUsers: users[account.id] != nil)
        }
        return pages.page(
            "admin-accounts", title: "Accounts", model: AccountsModel(csrf: context.csrfToken, accounts: rows, created: created, error: error),
            context: context, section: .adminAccounts, status: error == nil ? .ok : .badRequest)
    }

    /// Adds a user (and a new account unless one is chosen) and shows their set-password link.
    func createUser(_ request: Request, context: HubRequestContext) async throws -> Response {
        let form = context.form
        do {
            let email = try EmailAddress.validated(form.text("email") ?? "", param: "email")
            let name = try AdminController.checkedName(form.text("display_name") ?? EmailAddress.localPart(email), param: "display_name")
            let accountID = form.text("account_id")
            let role: User.Role?
            if let text = form.text("role") {
                guard let chosen = User.Role(rawValue: text) else { throw APIError.invalidRequest("Choose the role 'member' or 'owner'.", param: "role") }
                role = chosen
            } else {
                role = nil
            }
            let user = try await services.store.createUser(
                accountID: accountID, email: email, displayName: name, role: role ?? (accountID == nil ? .owner : .member),
                isOperator: form["operator"] != nil)
            let link = PortalLinks.base(request, services.configuration) + "/set-password?token=" + (try await services.store.createPasswordLink(userID: user.id))
            services.logger.info("user \(email) created by \(context.portal!.user.email)")
            return try await accounts(context, created: .init(email: email, link: link))
        } catch let error as APIError {
            return try await accounts(context, error: error.message)
        } catch StoreError.conflict {
            return try await accounts(context, error: "A user with this email already exists.")
        } catch StoreError.notFound {
            return try await accounts(context, error: "That account does not exist.")
        }
    }
}
