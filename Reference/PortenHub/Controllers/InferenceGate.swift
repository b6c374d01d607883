import Hummingbird
import NodeProtocol
import OpenAIWire

/// What every inference request passes after validation: the key's model allow-list (403), its
/// rate limits (429), routing under its policy with the warm-up budget, and the proof headers
/// (`X-Porten-Node`, `X-Porten-Region`) of where it ran.
struct InferenceGate: Sendable {
    let services: HubServices

    /// Passes the request to a node and waits for the node's first event.
    @inline(never)  // its frame stays out of its callers' frames
    func open(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, key: AuthenticatedKey, headers requestHeaders: HTTPFields,
        requestID: String, meter: inout UsageMeter
    ) async throws(APIError) -> (dispatch: InferenceDispatch, headers: HTTPFields) {
        let routing = try await pass(kind, model: model, body: body, key: key, headers: requestHeaders, requestID: requestID, meter: &meter)
        let dispatch = try await routing.advance(until: nil)!  // without a pause it ends with a dispatch or throws
        return (dispatch, Self.proofHeaders(dispatch))
    }

    /// Checks the key's allow-list, credit and rate limits; the routing that then may start.
    @inline(never)  // its frame stays out of its callers' frames (an idle stream holds them)
    func pass(
        _ kind: TunnelMessage.Infer.Kind, model: CatalogModel, body: JSONValue, key: AuthenticatedKey, headers requestHeaders: HTTPFields,
        requestID: String, meter: inout UsageMeter
    ) async throws(APIError) -> Routing {
        guard key.policy.allowsModel(model.id) else { throw .modelNotAllowed(model.id) }
        if services.configuration.requireCredit {
            let most = (meter.price ?? Price(model)).cost(prompt: meter.promptLimit, completion: meter.completionLimit)
            meter.reservation = try await reserveCredit(key, most: most)
        }
        try await services.rateLimiter.admit(key)
        // A request that waited (a load, a queue slot) asks again before it goes to a node: its
        // key may have been revoked, or its account disabled, meanwhile. (The portal's playground
        // calls with its session, not a presented key.)
        var stillAuthorized: (@Sendable () async throws(APIError) -> Void)?
        if let presented = requestHeaders.bearerToken {
            let store = services.store
            stillAuthorized = { () async throws(APIError) in
                _ = try await APIKeyMiddleware.authenticate(
                    presented, store: store,
                    refusal: .invalidAPIKey("This API key was revoked, or its account disabled, while the request waited for a node."))
            }
        }
        return Routing(
            kind, model: model, body: body, requestID: requestID, caller: key.caller, keyID: key.keyID, registry: services.registry, metrics: services.metrics,
            budgets: try RequestBudgets.of(requestHeaders, configuration: services.configuration), stillAuthorized: stillAuthorized)
    }

    /// `X-Porten-Node` and `X-Porten-Region`: where the request runs.
    static func proofHeaders(_ dispatch: InferenceDispatch) -> HTTPFields {
        var headers = HTTPFields()
        headers[.portenNode] = dispatch.connection.node.id
        headers[.portenRegion] = dispatch.connection.node.region
        return headers
    }

    /// With `--require-credit`, an account whose balance is not above what its running requests
    /// may still cost is refused before any node is used, as OpenAI answers an exhausted quota;
    /// otherwise this request's most is reserved until it ends.
    private func reserveCredit(_ key: AuthenticatedKey, most: Money) async throws(APIError) -> CreditReservations.Ticket {
        let reservations = services.creditReservations
        let read = reservations.openRead(account: key.accountID)
        let balance: Money
        do {
            balance = try await services.store.balance(key.accountID)
        } catch {
            reservations.abandon(read)
            throw .storeUnavailable("The ledger")
        }
        guard let ticket = reservations.reserve(read, amount: most, balance: balance) else {
            throw APIError(
                status: 429, message: "You exceeded your current quota, please check your plan and billing details. Your account's balance is \(balance.decimal(places: 2)) \(services.configuration.currency).",
                type: "insufficient_quota", code: "insufficient_quota")
        }
        return ticket
    }
}
