/// Arranges the fixtures goldens ask for on a Porten hub, through its admin API
/// (docs/golden-format.md, "Fixtures"). Fixtures it cannot arrange stay absent, and the cases
/// that need them are skipped with the reason.
public struct FixtureArranger: Sendable {
    public var adminToken: String
    public var client: CurlClient

    public init(adminToken: String, client: CurlClient = CurlClient()) {
        self.adminToken = adminToken
        self.client = client
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// `target` with the fixtures arranged, plus notes on what could not be.
    public func arrange(_ target: Target) throws -> (target: Target, notes: [String]) {
        var target = target
        var notes: [String] = []
        let accounts = try admin(target, "GET", "accounts")["data"]?.array ?? []
        guard let account = accounts.first(where: { $0["disabled_at"] == nil || $0["disabled_at"] == .null })?["id"]?.string else {
            throw Failure(description: "the hub has no enabled account to make fixture keys for")
        }
        func key(_ name: String, _ policy: [String: JSON]) throws -> String {
            var body = policy
            body["account_id"] = .string(account)
            body["name"] = .string("conformance-\(name)")
            guard let plain = try admin(target, "POST", "keys", body: .object(body))["key"]?.string else {
                throw Failure(description: "creating the \(name) key returned no key")
            }
            return plain
        }
        target.fixtureKeys["region_pinned_key"] = try key("region_pinned_key", ["allowed_regions": .array([.string("conformance-nowhere")])])
        if let chat = target.models["chat"] {
            target.fixtureKeys["allowlisted_key"] = try key("allowlisted_key", ["model_allowlist": .array([.string(chat)])])
            let limited = try key("rate_limited_key", ["requests_per_minute": .int(1)])
            let body = JSON.object(["model": .string(chat), "messages": .array([.object(["role": .string("user"), "content": .string("hi")])])])
            let first = try client.send(
                .init(method: "POST", url: target.root + "/v1/chat/completions", headers: [("Authorization", "Bearer \(limited)")], body: Array(body.description.utf8)))
            if first.status == 200 { target.fixtureKeys["rate_limited_key"] = limited } else { notes.append("rate_limited_key: its first request got \(first.status)") }
        } else {
            notes.append("allowlisted_key, rate_limited_key: no model for role 'chat'")
        }
        if let cold = target.models["cold"] {
            let status = try client.send(.init(method: "GET", url: target.root + "/public/v1/models/warming?model=\(cold)"))
            if status.status == 200, (try? StrictJSON.parse(status.body))?["ready"] == .bool(false) {
                target.fixtures.insert("cold_model")
            } else {
                notes.append("cold_model: '\(cold)' is not cold on the target")
            }
        }
        target.fixtures.formUnion(target.fixtureKeys.keys)
        return (target, notes)
    }

    private func admin(_ target: Target, _ method: String, _ path: String, body: JSON? = nil) throws -> JSON {
        let response = try client.send(
            .init(
                method: method, url: target.root + "/admin/v1/" + path, headers: [("Authorization", "Bearer \(adminToken)")],
                body: body.map { Array($0.description.utf8) }))
        guard (200..<300).contains(response.status) else {
            throw Failure(description: "\(method) /admin/v1/\(path): \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return try StrictJSON.parse(response.body)
    }
}
