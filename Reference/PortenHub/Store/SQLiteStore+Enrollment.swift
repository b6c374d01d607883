import Foundation
import GRDB

/// Where new nodes land: the operator's policy for enrolled machines, never what a machine claims.
public struct EnrollmentPolicy: Sendable, Equatable {
    public var region: String
    public var trustClass: String

    public init(region: String = "local", trustClass: String = "community") {
        self.region = region
        self.trustClass = trustClass
    }
}

extension SQLiteStore {
    // MARK: Device authorization (RFC 8628)

    /// Starts a device authorization; returns the device code (for the machine, stored hashed) and the record.
    public func startDeviceAuthorization(machineName: String, lifetime: TimeInterval, interval: Int, now: Date) async throws -> (
        deviceCode: String, authorization: DeviceAuthorization
    ) {
        let deviceCode = SecretToken.randomBase62(count: 43)
        return try await writer.write { db in
            var userCode = ""
            repeat {
                userCode = UserCode.random()
            } while try DeviceAuthorization.filter(Column("user_code") == userCode).fetchCount(db) > 0
            try DeviceAuthorization.filter(Column("expires_at") < now - 86_400).deleteAll(db)
            let authorization = DeviceAuthorization(
                deviceCodeHash: Data(SecretToken.sha256(deviceCode)), userCode: userCode, machineName: machineName, status: .pending,
                createdAt: now, expiresAt: now + lifetime, interval: interval, lastPollAt: nil, accountID: nil, approvedBy: nil, nodeID: nil)
            try authorization.insert(db)
            return (deviceCode, authorization)
        }
    }

    /// The pending, unexpired authorization a person's code names, or nil.
    public func pendingDeviceAuthorization(userCode: String, now: Date) async throws -> DeviceAuthorization? {
        try await writer.read { db in
            try DeviceAuthorization.filter(Column("user_code") == userCode && Column("status") == "pending" && Column("expires_at") > now).fetchOne(db)
        }
    }

    /// A person approves (binding the machine to their account under `machineName`) or denies;
    /// nil when the code is no longer pending (used, expired or unknown).
    public func decideDeviceAuthorization(userCode: String, approve: Bool, by user: User, machineName: String, now: Date) async throws
        -> DeviceAuthorization?
    {
        try await writer.write { db in
            guard var authorization = try DeviceAuthorization.filter(
                Column("user_code") == userCode && Column("status") == "pending" && Column("expires_at") > now
            ).fetchOne(db) else { return nil }
            authorization.status = approve ? .approved : .denied
            authorization.machineName = machineName
            authorization.accountID = user.accountID
            authorization.approvedBy = user.id
            try authorization.update(db)
            return authorization
        }
    }

    /// One poll: too early (`slow_down`, and the interval grows by 5 s), still pending, denied,
    /// expired, unknown or already collected (`invalid`), or — once, after approval — the new
    /// node and its credential, created now under `policy`.
    public func pollDeviceAuthorization(deviceCode: String, policy: EnrollmentPolicy, now: Date) async throws -> DevicePoll {
        guard (1...128).contains(deviceCode.utf8.count) else { return .invalid }
        return try await writer.write { db in
            guard var authorization = try DeviceAuthorization.fetchOne(db, key: Data(SecretToken.sha256(deviceCode))),
                authorization.status != .collected
            else { return .invalid }
            guard authorization.expiresAt > now else { return .expired }
            if let last = authorization.lastPollAt, now.timeIntervalSince(last) < Double(authorization.interval) {
                authorization.interval += 5
                authorization.lastPollAt = now
                try authorization.update(db)
                return .slowDown(interval: authorization.interval)
            }
            authorization.lastPollAt = now
            switch authorization.status {
            case .pending:
                try authorization.update(db)
                return .pending
            case .denied:
                try authorization.update(db)
                return .denied
            case .approved:
                // An account disabled since the approval gets no node.
                guard let accountID = authorization.accountID, try Account.fetchOne(db, key: accountID)?.disabledAt == nil else {
                    authorization.status = .denied
                    try authorization.update(db)
                    return .denied
                }
                let (node, credential) = try Self.insertNode(
                    db, accountID: accountID, name: authorization.machineName, region: policy.region, trustClass: policy.trustClass, now: now)
                authorization.status = .collected
                authorization.nodeID = node.id
                try authorization.update(db)
                return .issued(node: node, credential: credential.plain)
            case .collected:
                return .invalid
            }
        }
    }

    // MARK: Enrollment tokens

    public func createEnrollmentToken(
        accountID: String, namePrefix: String, usesAllowed: Int, lifetime: TimeInterval, now: Date
    ) async throws -> (token: EnrollmentToken, plain: String) {
        let secret = SecretToken.generate(prefix: SecretToken.enrollmentTokenPrefix)
        let token = EnrollmentToken(
            id: Self.newID("enroll"), accountID: accountID, lookupID: secret.lookupID, tokenHash: Data(secret.hash),
            displayPrefix: secret.displayPrefix, namePrefix: namePrefix, usesAllowed: usesAllowed, uses: 0, createdAt: now,
            expiresAt: now + lifetime, revokedAt: nil)
        try await writer.write { db in
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            try token.insert(db)
        }
        return (token, secret.plain)
    }

    public func enrollmentTokens(accountID: String?) async throws -> [EnrollmentToken] {
        try await writer.read { db in
            var request = EnrollmentToken.order(Column("created_at").desc)
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.fetchAll(db)
        }
    }

    /// Revokes token `id` (only within `accountID` when given). - Returns: false when there is no such live token.
    @discardableResult
    public func revokeEnrollmentToken(id: String, accountID: String?, now: Date) async throws -> Bool {
        try await writer.write { db in
            var request = EnrollmentToken.filter(key: id).filter(Column("revoked_at") == nil)
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.updateAll(db, Column("revoked_at").set(to: now)) > 0
        }
    }

    /// Exchanges an enrollment token for a new node and its credential, counting the use, in
    /// one transaction (two machines racing for the last use cannot both get it).
    public func enroll(
        token presented: String, machineName: String?, policy: EnrollmentPolicy, address: String?, now: Date
    ) async throws -> (node: NodeRecord, credential: String) {
        guard let secret = SecretToken(plain: presented, prefix: SecretToken.enrollmentTokenPrefix) else { throw EnrollmentRefusal.unknown }
        return try await writer.write { db in
            guard var token = try EnrollmentToken.filter(Column("lookup_id") == secret.lookupID).fetchOne(db),
                secret.matches(storedHash: Array(token.tokenHash)),
                try Account.fetchOne(db, key: token.accountID)?.disabledAt == nil
            else { throw EnrollmentRefusal.unknown }
            guard token.revokedAt == nil else { throw EnrollmentRefusal.revoked }
            guard token.expiresAt > now else { throw EnrollmentRefusal.expired }
            guard token.uses < token.usesAllowed else { throw EnrollmentRefusal.usedUp }
            token.uses += 1
            try token.update(db)
            let (node, credential) = try Self.insertNode(
                db, accountID: token.accountID, name: machineName ?? "\(token.namePrefix)-\(token.uses)", region: policy.region,
                trustClass: policy.trustClass, now: now)
            try db.execute(
                sql: "INSERT INTO enrollment_use (token_id, node_id, used_at, address) VALUES (?, ?, ?, ?)",
                arguments: [token.id, node.id, now, address])
            return (node, credential.plain)
        }
    }

    /// Tokens (prompt + completion) each node of the account served since `since`.
    public func tokensServed(accountID: String, since: Date) async throws -> [String: Int] {
        try await writer.read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT usage.node_id AS node_id, sum(usage.prompt_tokens + usage.completion_tokens) AS tokens
                    FROM usage JOIN node ON node.id = usage.node_id
                    WHERE node.account_id = ? AND usage.time >= ? GROUP BY usage.node_id
                    """, arguments: [accountID, since])
            return Dictionary(rows.map { ($0["node_id"] as String, $0["tokens"] as Int) }, uniquingKeysWith: { $1 })
        }
    }
}
