import Foundation
import GRDB

/// A signed-in user as every portal page sees them.
public struct PortalIdentity: Sendable, Equatable {
    public var user: User
    public var account: Account
    /// The session's CSRF token.
    public var csrfToken: String
}

extension SQLiteStore {
    /// Creates a user of `accountID`, or — when it is nil — of a new account named after them, in
    /// one transaction (a refused user leaves no empty account behind). Fails with
    /// `StoreError.conflict` when the email is taken, `.notFound` for an unknown account.
    public func createUser(
        accountID: String?, email: String, displayName: String, role: User.Role, isOperator: Bool, passwordHash: String?,
        now: Date
    ) async throws -> User {
        try await writer.write { db in
            guard try User.filter(Column("email") == email.lowercased()).fetchCount(db) == 0 else {
                throw StoreError.conflict("user \(email.lowercased())")
            }
            let account: String
            if let accountID {
                guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
                account = accountID
            } else {
                let created = Account(id: Self.newID("acct"), name: displayName, createdAt: now, disabledAt: nil)
                try created.insert(db)
                account = created.id
            }
            let user = User(
                id: Self.newID("user"), accountID: account, email: email.lowercased(), displayName: displayName, role: role,
                isOperator: isOperator, passwordHash: passwordHash, createdAt: now, disabledAt: nil)
            try user.insert(db)
            return user
        }
    }

    public func users(accountID: String?) async throws -> [User] {
        try await writer.read { db in
            var request = User.order(Column("created_at"))
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.fetchAll(db)
        }
    }

    public func user(email: String) async throws -> User? {
        try await writer.read { db in try User.filter(Column("email") == email.lowercased()).fetchOne(db) }
    }

    public func setPassword(userID: String, hash: String) async throws {
        try await writer.write { db in
            guard try User.filter(key: userID).updateAll(db, Column("password_hash").set(to: hash)) > 0 else {
                throw StoreError.notFound("user \(userID)")
            }
            // A new password ends every session the old one opened.
            try SessionRecord.filter(Column("user_id") == userID).deleteAll(db)
        }
    }

    // MARK: Password links

    /// A one-time link token to set `userID`'s password, valid for `lifetime`.
    public func createPasswordLink(userID: String, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecretToken.randomBase62(count: 40)
        try await writer.write { db in
            try PasswordLink(tokenHash: Data(SecretToken.sha256(token)), userID: userID, expiresAt: now + lifetime, usedAt: nil).insert(db)
        }
        return token
    }

    /// The user a link is for, if it is unused, unexpired and the user and account are enabled.
    public func passwordLinkUser(_ token: String, now: Date) async throws -> User? {
        try await writer.read { db in try Self.livePasswordLink(db, token, now: now)?.1 }
    }

    /// Sets the password through a link and uses the link up, in one transaction.
    /// - Returns: the user, or nil when the link is not (or no longer) valid.
    public func usePasswordLink(_ token: String, passwordHash: String, now: Date) async throws -> User? {
        try await writer.write { db in
            guard var (link, user) = try Self.livePasswordLink(db, token, now: now) else { return nil }
            link.usedAt = now
            try link.update(db)
            user.passwordHash = passwordHash
            try user.update(db)
            try SessionRecord.filter(Column("user_id") == user.id).deleteAll(db)
            return user
        }
    }

    private static func livePasswordLink(_ db: Database, _ token: String, now: Date) throws -> (PasswordLink, User)? {
        guard token.count == 40, let link = try PasswordLink.fetchOne(db, key: Data(SecretToken.sha256(token))), link.usedAt == nil,
            link.expiresAt > now, let user = try User.fetchOne(db, key: link.userID), user.disabledAt == nil,
            try Account.fetchOne(db, key: user.accountID)?.disabledAt == nil
        else { return nil }
        return (link, user)
    }

    // MARK: Sessions

    /// Opens a session for `userID`; returns the cookie's token (stored only as its hash).
    public func createSession(userID: String, lifetime: TimeInterval, now: Date) async throws -> String {
        let token = SecretToken.randomBase62(count: 43)
        try await writer.write { db in
            try SessionRecord.filter(Column("expires_at") < now).deleteAll(db)
            try SessionRecord(
                tokenHash: Data(SecretToken.sha256(token)), userID: userID, csrfToken: SecretToken.randomBase62(count: 32), createdAt: now,
                expiresAt: now + lifetime
            ).insert(db)
        }
        return token
    }

    /// Who a session cookie belongs to: nil when unknown, expired, or its user or account is disabled.
    public func session(_ token: String, now: Date) async throws -> PortalIdentity? {
        guard (1...128).contains(token.utf8.count) else { return nil }
        return try await writer.read { db in
            guard let session = try SessionRecord.fetchOne(db, key: Data(SecretToken.sha256(token))), session.expiresAt > now,
                let user = try User.fetchOne(db, key: session.userID), user.disabledAt == nil, user.passwordHash != nil,
                let account = try Account.fetchOne(db, key: user.accountID), account.disabledAt == nil
            else { return nil }
            return PortalIdentity(user: user, account: account, csrfToken: session.csrfToken)
        }
    }

    public func deleteSession(_ token: String) async throws {
        _ = try await writer.write { db in try SessionRecord.deleteOne(db, key: Data(SecretToken.sha256(token))) }
    }

    // MARK: The playground's key

    /// The account's playground key (created on first use): the portal's playground calls the
    /// API with it, so its requests are metered and routed like any other.
    public func playgroundKey(accountID: String, now: Date) async throws -> AuthenticatedKey {
        // Looked up and, if missing, created in one write: parallel first calls make one key.
        let key = try await writer.write { db -> APIKey in
            if let key = try APIKey.filter(Column("account_id") == accountID && Column("purpose") == "playground" && Column("revoked_at") == nil)
                .fetchOne(db)
            {
                return key
            }
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            var key = Self.newKey(accountID: accountID, name: "Playground", now: now).key
            key.purpose = "playground"
            try key.insert(db)
            return key
        }
        return AuthenticatedKey(keyID: key.id, accountID: key.accountID, policy: key.policy)
    }
}
