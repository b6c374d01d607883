import Foundation
import GRDB

/// A key that authenticated: who is calling, and what its policy allows.
public struct AuthenticatedKey: Sendable, Equatable {
    public var keyID: String
    public var accountID: String
    public var policy: KeyPolicy

    public init(keyID: String, accountID: String, policy: KeyPolicy = .unrestricted) {
        self.keyID = keyID
        self.accountID = accountID
        self.policy = policy
    }

    /// The caller as routing sees it.
    public var caller: PolicyRouting.Caller { .init(account: accountID, policy: policy) }
}

extension SQLiteStore {
    /// Creates a key for `accountID`; the plain key is in the returned token and nowhere else.
    public func createKey(accountID: String, name: String, policy: KeyPolicy, now: Date) async throws -> (
        key: APIKey, token: SecretToken
    ) {
        let (key, token) = Self.newKey(accountID: accountID, name: name, policy: policy, now: now)
        try await writer.write { db in
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            try key.insert(db)
        }
        return (key, token)
    }

    public func keys(accountID: String?) async throws -> [APIKey] {
        try await writer.read { db in
            var request = APIKey.order(Column("created_at"))
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.fetchAll(db)
        }
    }

    /// Changes the policy of key `id` with `change` (given the current one), in one transaction;
    /// it applies to the key's next request.
    public func updateKeyPolicy(id: String, _ change: @escaping @Sendable (KeyPolicy) throws -> KeyPolicy) async throws -> APIKey {
        try await writer.write { db in
            guard var key = try APIKey.fetchOne(db, key: id) else { throw StoreError.notFound("key \(id)") }
            key.policy = try change(key.policy)
            try key.update(db)
            return key
        }
    }

    @discardableResult
    public func revokeKey(id: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            try APIKey.filter(key: id).filter(Column("revoked_at") == nil).updateAll(db, Column("revoked_at").set(to: now)) > 0
        }
    }

    /// The live key behind a presented `sk-porten-…` string, or nil (unknown, revoked, disabled account).
    /// A key that authenticated within the last second is answered from memory (``LiveKeyCache``).
    public func authenticateKey(_ presented: String) async throws -> AuthenticatedKey? {
        guard let token = SecretToken(plain: presented, prefix: SecretToken.apiKeyPrefix) else { return nil }
        return try await liveKeys.key(for: token.hash) {
            try await liveSecretHolder(presented, prefix: SecretToken.apiKeyPrefix, hash: \APIKey.secretHash, revokedAt: \.revokedAt, accountID: \.accountID)
                .map { AuthenticatedKey(keyID: $0.id, accountID: $0.accountID, policy: $0.policy) }
        }
    }

    /// The unrevoked row of an enabled account whose secret `presented` is: found by its lookup id,
    /// then its hash compared in constant time. Shared by API keys and node credentials.
    func liveSecretHolder<Holder: FetchableRecord & TableRecord & Sendable>(
        _ presented: String, prefix: String, hash: any KeyPath<Holder, Data> & Sendable, revokedAt: any KeyPath<Holder, Date?> & Sendable,
        accountID: any KeyPath<Holder, String> & Sendable
    ) async throws -> Holder? {
        guard let token = SecretToken(plain: presented, prefix: prefix) else { return nil }
        return try await writer.read { db in
            guard let holder = try Holder.filter(Column("lookup_id") == token.lookupID).fetchOne(db),
                token.matches(storedHash: Array(holder[keyPath: hash])), holder[keyPath: revokedAt] == nil,
                let account = try Account.fetchOne(db, key: holder[keyPath: accountID]), account.disabledAt == nil
            else { return nil }
            return holder
        }
    }
}
