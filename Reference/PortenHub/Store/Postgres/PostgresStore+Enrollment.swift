import Foundation
import PostgresNIO

extension PostgresStore {
    // MARK: Device authorization (RFC 8628)

    public func startDeviceAuthorization(machineName: String, lifetime: TimeInterval, interval: Int, now: Date) async throws -> (
        deviceCode: String, authorization: DeviceAuthorization
    ) {
        let deviceCode = SecretToken.randomBase62(count: 43)
        return try await transaction { connection in
            var userCode = ""
            repeat {
                userCode = UserCode.random()
            } while try await connection.changes("SELECT 1 FROM device_authorization WHERE user_code = \(userCode)") > 0
            try await connection.changes("DELETE FROM device_authorization WHERE expires_at < \(now - 86_400)")
            let authorization = DeviceAuthorization(
                deviceCodeHash: Data(SecretToken.sha256(deviceCode)), userCode: userCode, machineName: machineName, status: .pending,
                createdAt: now, expiresAt: now + lifetime, interval: interval, lastPollAt: nil, accountID: nil, approvedBy: nil, nodeID: nil)
            try await Self.insert(authorization, into: "device_authorization", on: connection)
            return (deviceCode, authorization)
        }
    }

    public func pendingDeviceAuthorization(userCode: String, now: Date) async throws -> DeviceAuthorization? {
        try await fetchOne(
            DeviceAuthorization.self,
            "SELECT * FROM device_authorization WHERE user_code = \(userCode) AND status = 'pending' AND expires_at > \(now)")
    }

    public func decideDeviceAuthorization(userCode: String, approve: Bool, by user: User, machineName: String, now: Date) async throws
        -> DeviceAuthorization?
    {
        let status = approve ? DeviceAuthorization.Status.approved.rawValue : DeviceAuthorization.Status.denied.rawValue
        return try await fetchOne(DeviceAuthorization.self, """
            UPDATE device_authorization SET status = \(status), machine_name = \(machineName), account_id = \(user.accountID),
                approved_by = \(user.id)
            WHERE user_code = \(userCode) AND status = 'pending' AND expires_at > \(now)
            RETURNING *
            """)
    }

    public func pollDeviceAuthorization(deviceCode: String, policy: EnrollmentPolicy, now: Date) async throws -> DevicePoll {
        guard (1...128).contains(deviceCode.utf8.count) else { return .invalid }
        let hash = Data(SecretToken.sha256(deviceCode))
        return try await transaction { connection in
            guard var authorization = try await Self.fetchOne(
                DeviceAuthorization.self, "SELECT * FROM device_authorization WHERE device_code_hash = \(hash) FOR UPDATE", on: connection),
                authorization.status != .collected
            else { return .invalid }
            guard authorization.expiresAt > now else { return .expired }
            func save() async throws {
                try await connection.changes("""
                    UPDATE device_authorization SET status = \(authorization.status.rawValue), "interval" = \(authorization.interval),
                        last_poll_at = \(authorization.lastPollAt), node_id = \(authorization.nodeID)
                    WHERE device_code_hash = \(hash)
                    """)
            }
            if let last = authorization.lastPollAt, now.timeIntervalSince(last) < Double(authorization.interval) {
                authorization.interval += 5
                authorization.lastPollAt = now
                try await save()
                return .slowDown(interval: authorization.interval)
            }
            authorization.lastPollAt = now
            switch authorization.status {
            case .pending:
                try await save()
                return .pending
            case .denied:
                try await save()
                return .denied
            case .approved:
                // An account disabled since the approval gets no node.
                guard let accountID = authorization.accountID,
                    try await Self.fetchOne(Account.self, "SELECT * FROM account WHERE id = \(accountID)", on: connection)?.disabledAt == nil
                else {
                    authorization.status = .denied
                    try await save()
                    return .denied
                }
                let (node, credential) = try await Self.insertNode(
                    on: connection, accountID: accountID, name: authorization.machineName, region: policy.region,
                    trustClass: policy.trustClass, now: now)
                authorization.status = .collected
                authorization.nodeID = node.id
                try await save()
                return .issued(node: node, credential: credential.plain)
            case .collected:
                return .invalid
            }
        }
    }

    // MARK: Enrollment tokens

    public func createEnrollmentToken(accountID: String, namePrefix: String, usesAllowed: Int, lifetime: TimeInterval, now: Date) async throws -> (
        token: EnrollmentToken, plain: String
    ) {
        let secret = SecretToken.generate(prefix: SecretToken.enrollmentTokenPrefix)
        let token = EnrollmentToken(
            id: Self.newID("enroll"), accountID: accountID, lookupID: secret.lookupID, tokenHash: Data(secret.hash),
            displayPrefix: secret.displayPrefix, namePrefix: namePrefix, usesAllowed: usesAllowed, uses: 0, createdAt: now,
            expiresAt: now + lifetime, revokedAt: nil)
        try await transaction { connection in
            guard try await Self.accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
            try await Self.insert(token, into: "enrollment_token", on: connection)
        }
        return (token, secret.plain)
    }

    public func enrollmentTokens(accountID: String?) async throws -> [EnrollmentToken] {
        if let accountID {
            return try await fetchAll(EnrollmentToken.self, "SELECT * FROM enrollment_token WHERE account_id = \(accountID) ORDER BY created_at DESC, id COLLATE \"C\"")
        }
        return try await fetchAll(EnrollmentToken.self, "SELECT * FROM enrollment_token ORDER BY created_at DESC, id COLLATE \"C\"")
    }

    public func revokeEnrollmentToken(id: String, accountID: String?, now: Date) async throws -> Bool {
        try await execute("""
            UPDATE enrollment_token SET revoked_at = \(now)
            WHERE id = \(id) AND revoked_at IS NULL AND (\(accountID)::text IS NULL OR account_id = \(accountID))
            RETURNING 1
            """) > 0
    }

    public func enroll(token presented: String, machineName: String?, policy: EnrollmentPolicy, address: String?, now: Date) async throws -> (
        node: NodeRecord, credential: String
    ) {
        guard let secret = SecretToken(plain: presented, prefix: SecretToken.enrollmentTokenPrefix) else { throw EnrollmentRefusal.unknown }
        return try await transaction { connection in
            guard var token = try await Self.fetchOne(
                EnrollmentToken.self, "SELECT * FROM enrollment_token WHERE lookup_id = \(secret.lookupID) FOR UPDATE", on: connection),
                secret.matches(storedHash: Array(token.tokenHash)),
                try await Self.fetchOne(Account.self, "SELECT * FROM account WHERE id = \(token.accountID)", on: connection)?.disabledAt == nil
            else { throw EnrollmentRefusal.unknown }
            guard token.revokedAt == nil else { throw EnrollmentRefusal.revoked }
            guard token.expiresAt > now else { throw EnrollmentRefusal.expired }
            guard token.uses < token.usesAllowed else { throw EnrollmentRefusal.usedUp }
            token.uses += 1
            try await connection.changes("UPDATE enrollment_token SET uses = \(token.uses) WHERE id = \(token.id)")
            let (node, credential) = try await Self.insertNode(
                on: connection, accountID: token.accountID, name: machineName ?? "\(token.namePrefix)-\(token.uses)", region: policy.region,
                trustClass: policy.trustClass, now: now)
            try await connection.changes(
                "INSERT INTO enrollment_use (token_id, node_id, used_at, address) VALUES (\(token.id), \(node.id), \(now), \(address))")
            return (node, credential.plain)
        }
    }

    public func tokensServed(accountID: String, since: Date) async throws -> [String: Int] {
        struct Served: Decodable, Sendable {
            var nodeID: String
            var tokens: Int
            enum CodingKeys: String, CodingKey { case nodeID = "node_id", tokens }
        }
        let rows = try await fetchAll(Served.self, """
            SELECT usage.node_id AS node_id, sum(usage.prompt_tokens + usage.completion_tokens)::bigint AS tokens
            FROM usage JOIN node ON node.id = usage.node_id
            WHERE node.account_id = \(accountID) AND usage."time" >= \(since) GROUP BY usage.node_id
            """)
        return Dictionary(rows.map { ($0.nodeID, $0.tokens) }, uniquingKeysWith: { $1 })
    }
}
