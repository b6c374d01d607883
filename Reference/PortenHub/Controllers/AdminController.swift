import Foundation
import Hummingbird
import NodeProtocol
import OpenAIWire

/// `/admin/v1/…`: accounts, users, keys, nodes and usage, behind `OperatorTokenMiddleware`.
struct AdminController: Sendable {
    let services: HubServices

    func addRoutes(to group: RouterGroup<HubRequestContext>) {
        group.post("accounts", use: createAccount)
        group.get("accounts", use: listAccounts)
        group.delete("accounts/:id", use: disableAccount)
        group.post("keys", use: createKey)
        group.get("keys", use: listKeys)
        group.patch("keys/:id", use: updateKey)
        group.delete("keys/:id", use: revokeKey)
        group.post("nodes", use: createNode)
        group.get("nodes", use: listNodes)
        group.patch("nodes/:id", use: updateNode)
        group.delete("nodes/:id", use: revokeNode)
        group.get("usage", use: listUsage)
        group.get("fleet", use: showFleet)
        group.post("users", use: createUser)
        group.get("users", use: listUsers)
        group.post("enrollment-tokens", use: createEnrollmentToken)
        group.get("enrollment-tokens", use: listEnrollmentTokens)
        group.delete("enrollment-tokens/:id", use: revokeEnrollmentToken)
        addLedgerRoutes(to: group)
    }

    // MARK: Fleet

    /// The planner's view: connected nodes, their models and loads, and the demand per model.
    func showFleet(_ request: Request, context: HubRequestContext) async throws -> Response {
        let snapshot = await services.registry.snapshot()
        var replicas: AdminViews.FleetView.Replicas?
        if let directory = services.replicas {
            let now = ReplicaDirectory.milliseconds(Date())
            replicas = .init(this: directory.id, url: directory.url, others: await directory.others(fresh: true).map {
                .init(id: $0.id, url: $0.url, ageMS: Int(now - $0.at), nodes: $0.nodes.map(\.id))
            })
        }
        return JSONResponse.make(
            AdminViews.FleetView(
                nodes: snapshot.nodes.map {
                    AdminViews.FleetView.Node($0, loads: snapshot.loads[$0.id] ?? [:], ejected: snapshot.ejected[$0.id] ?? [:])
                }, demand: snapshot.demand,
                demandWindowSeconds: Int(services.configuration.demandWindow / .seconds(1)),
                queues: snapshot.queues.mapValues { .init(depth: $0.depth, longestWaitMS: $0.longestWait.wholeMilliseconds) },
                rateLimits: services.rateLimiter.mode.rawValue, replicas: replicas))
    }

    // MARK: Accounts

    func createAccount(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let account = try await services.store.createAccount(name: try Self.name(fields, default: nil))
        return JSONResponse.make(AdminViews.AccountView(account), status: .created)
    }

    func listAccounts(_ request: Request, context: HubRequestContext) async throws -> Response {
        return JSONResponse.make(AdminViews.List(data: try await services.store.accounts().map(AdminViews.AccountView.init)))
    }

    func disableAccount(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await services.store.disableAccount(id: id) else { throw notFound("account", id) }
        for node in try await services.store.nodes() where node.accountID == id {
            await services.disconnectNode(node.id, reason: "account disabled")
        }
        return JSONResponse.make(["id": JSONValue.string(id), "disabled": true])
    }

    // MARK: Keys

    func createKey(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let accountID = try fields.requiredString("account_id")
        do {
            let (key, token) = try await services.store.createKey(
                accountID: accountID, name: try Self.name(fields, default: "default"), policy: try KeyPolicyFields.parse(fields, base: .unrestricted))
            return JSONResponse.make(AdminViews.KeyView(key, plain: token.plain), status: .created)
        } catch StoreError.notFound {
            throw notFound("account", accountID, param: "account_id")
        }
    }

    func listKeys(_ request: Request, context: HubRequestContext) async throws -> Response {
        let keys = try await services.store.keys(accountID: request.uri.queryParameters["account_id"].map(String.init))
        return JSONResponse.make(AdminViews.List(data: keys.map { AdminViews.KeyView($0) }))
    }

    /// Changes a key's policy; it applies from the key's next request (keys are read per request).
    func updateKey(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let fields = try await body(request)
        do {
            let key = try await services.store.updateKeyPolicy(id: id) { current in try KeyPolicyFields.parse(fields, base: current) }
            return JSONResponse.make(AdminViews.KeyView(key))
        } catch StoreError.notFound {
            throw notFound("key", id)
        }
    }

    func revokeKey(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await services.store.revokeKey(id: id) else { throw notFound("live key", id) }
        return JSONResponse.make(["id": JSONValue.string(id), "revoked": true])
    }

    // MARK: Nodes

    func createNode(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let accountID = try fields.requiredString("account_id")
        let region = try fields.string("region") ?? "local"
        try Self.checkRegion(region, param: "region")
        let trustClass = try fields.oneOf("trust_class", TrustClass.allCases.map(\.rawValue)) ?? "community"
        do {
            let (node, credential) = try await services.store.createNode(
                accountID: accountID, name: try Self.name(fields, default: "node"), region: region, trustClass: trustClass)
            return JSONResponse.make(AdminViews.NodeView(node, credential: credential.plain), status: .created)
        } catch StoreError.notFound {
            throw notFound("account", accountID, param: "account_id")
        }
    }

    func listNodes(_ request: Request, context: HubRequestContext) async throws -> Response {
        let connected = await services.registry.connectedNodeIDs()
        var views: [AdminViews.NodeView] = []
        for node in try await services.store.nodes() {
            views.append(
                AdminViews.NodeView(
                    node, connected: connected.contains(node.id), inFlight: await services.registry.inFlight(nodeID: node.id)))
        }
        return JSONResponse.make(AdminViews.List(data: views))
    }

    /// Changes a node's region or trust class. A connected node is disconnected so that it comes
    /// back (within a second) under its new attributes; requests route by them from then on.
    func updateNode(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let fields = try await body(request)
        let region = try fields.string("region")
        if let region { try Self.checkRegion(region, param: "region") }
        let trustClass = try fields.oneOf("trust_class", TrustClass.allCases.map(\.rawValue))
        let node: NodeRecord
        do {
            node = try await services.store.updateNode(id: id, region: region, trustClass: trustClass)
        } catch StoreError.notFound {
            throw notFound("node", id)
        }
        await services.disconnectNode(id, reason: "attributes changed by the operator")
        return JSONResponse.make(AdminViews.NodeView(node))
    }

    /// The longest name of an account, key or node.
    static let maximumNameLength = 200

    /// The `name` field: 1…200 characters (and at most 800 bytes of UTF-8), something besides
    /// spaces, and no control, format or line-separator characters (a NUL would be cut off by the
    /// database, a newline or U+2028 would forge lines in logs, U+202E would reverse what an
    /// operator reads); `fallback` when absent, required without one.
    static func name(_ fields: RequestFields, _ key: String = "name", default fallback: String?) throws(APIError) -> String {
        guard let name = try fields.string(key) ?? fallback else { throw fields.missing(key) }
        return try checkedName(name, param: key)
    }

    static func checkedName(_ name: String, param: String) throws(APIError) -> String {
        let forbidden: Set<Unicode.GeneralCategory> = [.control, .format, .lineSeparator, .paragraphSeparator]
        guard (1...maximumNameLength).contains(name.count), name.utf8.count <= 4 * maximumNameLength,
            !name.unicodeScalars.contains(where: { forbidden.contains($0.properties.generalCategory) }),
            name.unicodeScalars.contains(where: { !$0.properties.isWhitespace })
        else {
            throw .invalidRequest(
                "Invalid '\(param)': use 1 to \(maximumNameLength) characters, not only spaces, without control or format characters.",
                param: param)
        }
        return name
    }

    /// Regions are short codes: lowercase letters, digits and '-' (`eu`, `us`, `eu-de`).
    static func checkRegion(_ region: String, param: String) throws(APIError) {
        guard !region.isEmpty, region.count <= 32, region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw .invalidRequest("Invalid '\(param)': '\(region)'. Use lowercase letters, digits and '-', such as 'eu' or 'eu-de'.", param: param)
        }
    }

    func revokeNode(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard try await services.store.revokeNode(id: id) else { throw notFound("live node", id) }
        await services.disconnectNode(id, reason: "node revoked")
        return JSONResponse.make(["id": JSONValue.string(id), "revoked": true])
    }

    // MARK: Usage

    func listUsage(_ request: Request, context: HubRequestContext) async throws -> Response {
        await services.usage.flush()
        let limit = min(max(Int(request.uri.queryParameters["limit"].map(String.init) ?? "") ?? 100, 1), 10_000)
        let rows = try await services.store.recentUsage(limit: limit, keyID: request.uri.queryParameters["key_id"].map(String.init))
        return JSONResponse.make(AdminViews.List(data: rows))
    }

    // MARK: Helpers

    func body(_ request: Request) async throws(APIError) -> RequestFields {
        try RequestFields(try await RequestBody.json(request, limit: 1 << 20))
    }

    func notFound(_ what: String, _ id: String, param: String? = nil) -> APIError {
        APIError(status: 404, message: "No \(what) with id '\(id)'.", type: "invalid_request_error", param: param, code: "not_found")
    }
}
