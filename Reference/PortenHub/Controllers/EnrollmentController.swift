import Foundation
import Hummingbird
import OpenAIWire

/// How machines become nodes without an operator: the device authorization grant (RFC 8628) for
/// `porten login`, and enrollment tokens for `porten enroll`. Region and trust class come from the
/// Hub's enrollment policy, never from the machine.
struct EnrollmentController: Sendable {
    let services: HubServices

    func addRoutes(to router: Router<HubRequestContext>) {
        router.post("/node/v1/device/code", use: startDeviceAuthorization)
        router.post("/node/v1/device/token", use: pollDeviceAuthorization)
        router.post("/node/v1/enroll", use: enroll)
    }

    static let deviceCodeGrant = "urn:ietf:params:oauth:grant-type:device_code"

    /// RFC 8628 §3.1–3.2: a device code for the machine, a user code for the person.
    func startDeviceAuthorization(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await Self.fields(request)
        if let wait = services.deviceStarts.admit(email: nil, address: context.remoteAddress) {
            throw APIError.rateLimitExceeded("Too many login attempts from this address; try again later.", retryAfter: Int(wait.rounded(.up)))
        }
        let name = try AdminController.checkedName(fields["name"] ?? "node", param: "name")
        let configuration = services.configuration
        let (deviceCode, authorization) = try await services.store.startDeviceAuthorization(
            machineName: name, lifetime: TimeInterval(configuration.deviceCodeLifetime / .seconds(1)), interval: configuration.devicePollInterval)
        let verification = PortalLinks.base(request, configuration) + "/device"
        return JSONResponse.make(
            [
                "device_code": JSONValue.string(deviceCode), "user_code": .string(authorization.userCode),
                "verification_uri": .string(verification),
                "verification_uri_complete": .string(verification + "?user_code=" + authorization.userCode),
                "expires_in": .int(Int(configuration.deviceCodeLifetime / .seconds(1))), "interval": .int(authorization.interval),
            ])
    }

    /// RFC 8628 §3.4–3.5: the machine's poll, answered with OAuth error codes until the person
    /// decides; after approval, once, the node's credential.
    func pollDeviceAuthorization(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await Self.fields(request)
        guard fields["grant_type"] == Self.deviceCodeGrant else {
            return Self.oauthError("unsupported_grant_type", "Use grant_type=\(Self.deviceCodeGrant).")
        }
        guard let deviceCode = fields["device_code"], !deviceCode.isEmpty else {
            return Self.oauthError("invalid_request", "Missing device_code.")
        }
        switch try await services.store.pollDeviceAuthorization(deviceCode: deviceCode, policy: services.configuration.enrollmentPolicy) {
        case .pending: return Self.oauthError("authorization_pending", "Waiting for someone to approve the code in the browser.")
        case .slowDown(let interval):
            return Self.oauthError("slow_down", "Polling too fast; wait \(interval) seconds between polls.", extra: ["interval": .int(interval)])
        case .denied: return Self.oauthError("access_denied", "The code was denied in the browser.")
        case .expired: return Self.oauthError("expired_token", "The code expired; run porten login again.")
        case .invalid: return Self.oauthError("invalid_grant", "Unknown or already used device code.")
        case .issued(let node, let credential):
            services.logger.info("node \(node.id) enrolled through the browser for account \(node.accountID)")
            return JSONResponse.make(Self.credentialView(node, credential: credential, tokenType: true), headers: Self.noStore)
        }
    }

    /// `porten enroll <token>`: an enrollment token for a new node's credential.
    func enroll(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await Self.fields(request)
        guard let token = fields["token"], !token.isEmpty else { throw APIError.invalidRequest("Missing 'token'.", param: "token") }
        let name = try fields["name"].map { name throws(APIError) in try AdminController.checkedName(name, param: "name") }
        if let wait = services.enrollFailures.admit(email: nil, address: context.remoteAddress) {
            throw APIError.rateLimitExceeded("Too many failed enrollments from this address; try again later.", retryAfter: Int(wait.rounded(.up)))
        }
        do {
            let (node, credential) = try await services.store.enroll(
                token: token, machineName: name, policy: services.configuration.enrollmentPolicy, address: context.remoteAddress)
            services.enrollFailures.succeeded(email: "", address: context.remoteAddress)
            services.logger.info("node \(node.id) enrolled with a token for account \(node.accountID)")
            return JSONResponse.make(Self.credentialView(node, credential: credential, tokenType: false), status: .created, headers: Self.noStore)
        } catch let refusal as EnrollmentRefusal {
            let reason =
                switch refusal {
                case .unknown: "This enrollment token is not valid."
                case .revoked: "This enrollment token was revoked."
                case .expired: "This enrollment token expired."
                case .usedUp: "This enrollment token has no uses left."
                }
            throw APIError(status: 401, message: reason + " Mint a new one at /earn/add.", type: "invalid_request_error", param: "token",
                code: "invalid_enrollment_token")
        }
    }

    static func credentialView(_ node: NodeRecord, credential: String, tokenType: Bool) -> [String: JSONValue] {
        var view: [String: JSONValue] = [
            "node_id": .string(node.id), "name": .string(node.name), "credential": .string(credential), "region": .string(node.region),
            "trust_class": .string(node.trustClass), "account_id": .string(node.accountID),
        ]
        if tokenType {
            view["access_token"] = .string(credential)
            view["token_type"] = .string("porten-node")
        }
        return view
    }

    /// Answers that carry a credential (or say why not) are never cached (RFC 6749 §5.1).
    static var noStore: HTTPFields {
        var headers = HTTPFields()
        headers[.cacheControl] = "no-store"
        headers[.init("Pragma")!] = "no-cache"
        return headers
    }

    /// RFC 6749 §5.2's error body, status 400.
    static func oauthError(_ code: String, _ description: String, extra: [String: JSONValue] = [:]) -> Response {
        var body: [String: JSONValue] = ["error": .string(code), "error_description": .string(description)]
        body.merge(extra) { $1 }
        return JSONResponse.make(body, status: .badRequest, headers: noStore)
    }

    /// A small body as fields: `application/x-www-form-urlencoded` (as RFC 8628 clients send) or a JSON object.
    static func fields(_ request: Request) async throws(APIError) -> [String: String] {
        if request.headers[.contentType]?.lowercased().hasPrefix("application/json") == true {
            let fields = try RequestFields(try await RequestBody.json(request, limit: 16 << 10))
            return fields.members.compactMapValues(\.stringValue)
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: 16 << 10)
        } catch {
            throw .requestTooLarge(limit: 16 << 10)
        }
        var fields: [String: String] = [:]
        for (name, value) in FormFields(urlEncoded: String(buffer: body)).pairs where fields[name] == nil { fields[name] = value }
        return fields
    }
}
