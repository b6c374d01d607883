import Foundation
import PostgresNIO

extension PostgresStore {
    public func createUser(
        accountID: String?, email: String, displayName: String, role: User.Role, isOperator: Bool, passwordHash: String?, now: Date
    ) async throws -> User {
        let email = email.lowercased()
        return try await transaction { connection in
            guard try await connection.changes("SELECT 1 FROM portal_user WHERE email = \(email)") == 0 else {
                throw StoreError.conflict("user \(email)")
            }
            let account: String
            if let accountID {
                guard try await Self.accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
                account = accountID
            } else {
                let created = Account(id: Self.newID("acct"), name: displayName, createdAt: now, disabledAt: nil)
                try await Self.insert(created, into: "account", on: connection)
                account = created.id
            }
            let user = User(
                id: Self.newID("user"), accountID: account, email: email, displayName: displayName, role: role, isOperator: isOperator,
                passwordHash: passwordHash, createdAt: now, disabledAt: nil)
            try await Self.insert(user, into: "portal_user", on: connection)
            return user
        }
    }

    public func users(accountID: String?) async throws -> [User] {
        if let accountID { return try await fetchAll(User.self, "SELECT * FROM portal_user WHERE account_id = \(accountID) ORDER BY created_at, id COLLATE \"C\"") }
        return try await fetchAll(User.self, "SELECT * FROM portal_user ORDER BY created_at, id COLLATE \"C\"")
    }

    public func user(email: String) async throws -> User? {
        guard !email.contains("\u{0}") else { return nil }  // no address holds one (and text cannot)
        return try await fetchOne(User.self, "SELECT * FROM portal_user WHERE email = \(email.lowercased())")
    }

    public func setPassword(userID: String, hash: String) async throws {
        try await transaction { connection in
            guard try await connection.changes("UPDATE portal_user SET password_hash = \(hash) WHERE id = \(userID) RETURNING 1") > 0 else {
                throw StoreError.notFound("user \(userID)")
            }
            // A new password ends every session the old one opened.
            try await connection.changes("DELETE FROM portal_session WHERE user_id = \(userID)")
        }
    }

    // MARK: Password links

    public func createPasswordLink(userID: String, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecretToken.randomBase62(count: 40)
        let link = PasswordLink(tokenHash: Data(SecretToken.sha256(token)), userID: userID, expiresAt: now + lifetime, usedAt: nil)
        try await bounded { connection in try await Self.insert(link, into: "password_link", on: connection) }
        return token
    }

    public func passwordLinkUser(_ token: String, now: Date) async throws -> User? {
        guard token.count == 40 else { return nil }
        return try await bounded { connection in try await Self.livePasswordLinkUser(token, now: now, lock: false, on: connection) }
    }

    public func usePasswordLink(_ token: String, passwordHash: String, now: Date) async throws -> User? {
        guard token.count == 40 else { return nil }
        return try await transaction { connection in
            guard var user = try await Self.livePasswordLinkUser(token, now: now, lock: true, on: connection) else { return nil }
            try await connection.changes("UPDATE password_link SET used_at = \(now) WHERE token_hash = \(Data(SecretToken.sha256(token)))")
            try await connection.changes("UPDATE portal_user SET password_hash = \(passwordHash) WHERE id = \(user.id)")
            try await connection.changes("DELETE FROM portal_session WHERE user_id = \(user.id)")
            user.passwordHash = passwordHash
            return user
        }
    }

    /// The enabled user of an unused, unexpired link (locked for update in a transaction: a link is used once).
    private static func livePasswordLinkUser(_ token: String, now: Date, lock: Bool, on runner: some PostgresQueryRunner) async throws -> User? {
        try await fetchOne(User.self, """
            SELECT u.* FROM password_link l JOIN portal_user u ON u.id = l.user_id JOIN account a ON a.id = u.account_id
            WHERE l.token_hash = \(Data(SecretToken.sha256(token))) AND l.used_at IS NULL AND l.expires_at > \(now)
              AND u.disabled_at IS NULL AND a.disabled_at IS NULL
            \(unescaped: lock ? "FOR UPDATE OF l" : "")
            """, on: runner)
    }

    // MARK: Sessions

    public func createSession(userID: String, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecretToken.randomBase62(count: 43)
        let session = SessionRecord(
            tokenHash: Data(SecretToken.sha256(token)), userID: userID, csrfToken: SecretToken.randomBase62(count: 32), createdAt: now,
            expiresAt: now + lifetime)
        try await transaction { connection in
            try await connection.changes("DELETE FROM portal_session WHERE expires_at < \(now)")
            try await Self.insert(session, into: "portal_session", on: connection)
        }
        return token
    }

    public func session(_ token: String, now: Date) async throws -> PortalIdentity? {
        guard (1...128).contains(token.utf8.count) else { return nil }
        struct Found: Decodable, Sendable {
            var userID: String
            var csrfToken: String
            enum CodingKeys: String, CodingKey { case userID = "user_id", csrfToken = "csrf_token" }
        }
        return try await bounded { connection in
            guard let found = try await Self.fetchOne(Found.self, """
                    SELECT user_id, csrf_token FROM portal_session
                    WHERE token_hash = \(Data(SecretToken.sha256(token))) AND expires_at > \(now)
                    """, on: connection),
                let user = try await Self.fetchOne(User.self, "SELECT * FROM portal_user WHERE id = \(found.userID)", on: connection),
                user.disabledAt == nil, user.passwordHash != nil,
                let account = try await Self.fetchOne(Account.self, "SELECT * FROM account WHERE id = \(user.accountID)", on: connection),
                account.disabledAt == nil
            else { return nil }
            return PortalIdentity(user: user, account: account, csrfToken: found.csrfToken)
        }
    }

    public func deleteSession(_ token: String) async throws {
        try await execute("DELETE FROM portal_session WHERE token_hash = \(Data(SecretToken.sha256(token)))")
    }
}
