import Foundation
import PostgresNIO

extension PostgresStore {
    public func appliedMigrations() async throws -> [String] {
        let applied = Set(try await bounded { try await Self.fetchColumn(String.self, "SELECT name FROM porten_migration", on: $0) })
        let known = PostgresMigrations.all.map(\.name)
        // In the order they apply, then any this build does not know (a newer Hub migrated the database).
        return known.filter(applied.contains) + applied.subtracting(known).sorted()
    }

    // MARK: Accounts

    public func createAccount(name: String, now: Date) async throws -> Account {
        let account = Account(id: Self.newID("acct"), name: name, createdAt: now, disabledAt: nil)
        try await bounded { connection in try await Self.insert(account, into: "account", on: connection) }
        return account
    }

    public func accounts() async throws -> [Account] {
        try await fetchAll(Account.self, "SELECT * FROM account ORDER BY created_at, id COLLATE \"C\"")
    }

    public func account(id: String) async throws -> Account? {
        try await fetchOne(Account.self, "SELECT * FROM account WHERE id = \(id)")
    }

    public func disableAccount(id: String, now: Date) async throws -> Bool {
        defer { liveKeys.invalidate() }
        return try await execute("UPDATE account SET disabled_at = \(now) WHERE id = \(id) RETURNING 1") > 0
    }

    // MARK: Catalog

    public func replaceCatalog(_ catalog: Catalog) async throws {
        try await transaction { connection in
            // Replicas starting together replace it one after the other.
            try await connection.changes("SELECT pg_advisory_xact_lock(7041984)")
            try await connection.changes("DELETE FROM catalog_model")
            for model in catalog.models { try await Self.insert(model, into: "catalog_model", on: connection) }
        }
    }

    public func setModelEnabled(_ modelID: String, _ enabled: Bool, now: Date) async throws {
        try await transaction { connection in
            try await connection.changes("""
                INSERT INTO catalog_switch (model_id, enabled, changed_at) VALUES (\(modelID), \(enabled), \(now))
                ON CONFLICT (model_id) DO UPDATE SET enabled = excluded.enabled, changed_at = excluded.changed_at
                """)
            try await connection.changes("UPDATE catalog_model SET enabled = \(enabled) WHERE id = \(modelID)")
        }
    }

    public func applyingSwitches(to catalog: Catalog) async throws -> Catalog {
        struct Switch: Decodable, Sendable {
            var modelID: String
            var enabled: Bool
            enum CodingKeys: String, CodingKey { case modelID = "model_id", enabled }
        }
        let switches = Dictionary(
            try await fetchAll(Switch.self, "SELECT model_id, enabled FROM catalog_switch").map { ($0.modelID, $0.enabled) }, uniquingKeysWith: { $1 })
        var result = catalog
        for index in result.models.indices {
            if let enabled = switches[result.models[index].id] { result.models[index].enabled = enabled }
        }
        return result
    }

    public func catalog() async throws -> Catalog {
        Catalog(models: try await fetchAll(CatalogModel.self, "SELECT * FROM catalog_model ORDER BY id COLLATE \"C\""))
    }

    // MARK: API keys

    public func createKey(accountID: String, name: String, policy: KeyPolicy, now: Date) async throws -> (key: APIKey, token: SecretToken) {
        let (key, token) = Self.newKey(accountID: accountID, name: name, policy: policy, now: now)
        try await transaction { connection in
            guard try await Self.accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
            try await Self.insert(key, into: "api_key", on: connection)
        }
        return (key, token)
    }

    public func keys(accountID: String?) async throws -> [APIKey] {
        if let accountID { return try await fetchAll(APIKey.self, "SELECT * FROM api_key WHERE account_id = \(accountID) ORDER BY created_at, id COLLATE \"C\"") }
        return try await fetchAll(APIKey.self, "SELECT * FROM api_key ORDER BY created_at, id COLLATE \"C\"")
    }

    public func updateKeyPolicy(id: String, _ change: @escaping @Sendable (KeyPolicy) throws -> KeyPolicy) async throws -> APIKey {
        defer { liveKeys.invalidate() }
        return try await transaction { connection in
            guard var key = try await Self.fetchOne(APIKey.self, "SELECT * FROM api_key WHERE id = \(id) FOR UPDATE", on: connection) else {
                throw StoreError.notFound("key \(id)")
            }
            key.policy = try change(key.policy)
            try await connection.changes("""
                UPDATE api_key SET allowed_regions = \(key.allowedRegions), min_trust_class = \(key.minTrustClass),
                    own_nodes_only = \(key.ownNodesOnly), model_allowlist = \(key.modelAllowlist),
                    requests_per_minute = \(key.requestsPerMinute), tokens_per_minute = \(key.tokensPerMinute)
                WHERE id = \(id)
                """)
            return key
        }
    }

    public func revokeKey(id: String, now: Date) async throws -> Bool {
        defer { liveKeys.invalidate() }
        return try await execute("UPDATE api_key SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING 1") > 0
    }

    public func authenticateKey(_ presented: String) async throws -> AuthenticatedKey? {
        guard let token = SecretToken(plain: presented, prefix: SecretToken.apiKeyPrefix) else { return nil }
        return try await liveKeys.key(for: token.hash) {
            try await liveHolder(APIKey.self, table: "api_key", token, hash: \.secretHash)
                .map { AuthenticatedKey(keyID: $0.id, accountID: $0.accountID, policy: $0.policy) }
        }
    }

    /// The unrevoked row of an enabled account that `token` is the secret of: found by its
    /// lookup id, then its hash compared in constant time.
    private func liveHolder<Holder: Decodable & Sendable>(
        _ type: Holder.Type, table: String, _ token: SecretToken, hash: any KeyPath<Holder, Data> & Sendable
    ) async throws -> Holder? {
        let query: PostgresQuery = """
            SELECT h.* FROM \(unescaped: table) h JOIN account a ON a.id = h.account_id
            WHERE h.lookup_id = \(token.lookupID) AND h.revoked_at IS NULL AND a.disabled_at IS NULL
            """
        guard let holder = try await fetchOne(type, query), token.matches(storedHash: Array(holder[keyPath: hash])) else { return nil }
        return holder
    }

    public func playgroundKey(accountID: String, now: Date) async throws -> AuthenticatedKey {
        let fresh = Self.newKey(accountID: accountID, name: "Playground", now: now).key
        let key = try await transaction { connection -> APIKey in
            // One per account however many ask at once: the account row is the lock.
            guard try await Self.fetchOne(Account.self, "SELECT * FROM account WHERE id = \(accountID) FOR UPDATE", on: connection) != nil else {
                throw StoreError.notFound("account \(accountID)")
            }
            if let key = try await Self.fetchOne(
                APIKey.self,
                "SELECT * FROM api_key WHERE account_id = \(accountID) AND purpose = 'playground' AND revoked_at IS NULL ORDER BY created_at LIMIT 1",
                on: connection)
            {
                return key
            }
            var key = fresh
            key.purpose = "playground"
            try await Self.insert(key, into: "api_key", on: connection)
            return key
        }
        return AuthenticatedKey(keyID: key.id, accountID: key.accountID, policy: key.policy)
    }

    // MARK: Nodes

    public func createNode(accountID: String, name: String, region: String, trustClass: String, now: Date) async throws -> (
        node: NodeRecord, credential: SecretToken
    ) {
        try await transaction { connection in
            try await Self.insertNode(on: connection, accountID: accountID, name: name, region: region, trustClass: trustClass, now: now)
        }
    }

    static func insertNode(on connection: PostgresConnection, accountID: String, name: String, region: String, trustClass: String, now: Date)
        async throws -> (node: NodeRecord, credential: SecretToken)
    {
        guard try await accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
        let token = SecretToken.generate(prefix: SecretToken.nodeCredentialPrefix)
        let node = NodeRecord(
            id: newID("node"), accountID: accountID, name: name, lookupID: token.lookupID, credentialHash: Data(token.hash),
            region: region, trustClass: trustClass, createdAt: now, revokedAt: nil, lastSeenAt: nil)
        try await insert(node, into: "node", on: connection)
        return (node, token)
    }

    static func accountExists(_ accountID: String, on connection: PostgresConnection) async throws -> Bool {
        try await connection.changes("SELECT 1 FROM account WHERE id = \(accountID)") > 0
    }

    public func nodes() async throws -> [NodeRecord] {
        try await fetchAll(NodeRecord.self, "SELECT * FROM node ORDER BY created_at, id COLLATE \"C\"")
    }

    public func updateNode(id: String, region: String?, trustClass: String?) async throws -> NodeRecord {
        guard let node = try await fetchOne(NodeRecord.self, """
            UPDATE node SET region = coalesce(\(region), region), trust_class = coalesce(\(trustClass), trust_class)
            WHERE id = \(id) RETURNING *
            """)
        else { throw StoreError.notFound("node \(id)") }
        return node
    }

    public func revokeNode(id: String, now: Date) async throws -> Bool {
        try await execute("UPDATE node SET revoked_at = \(now) WHERE id = \(id) AND revoked_at IS NULL RETURNING 1") > 0
    }

    public func authenticateNode(_ presented: String) async throws -> NodeRecord? {
        guard let token = SecretToken(plain: presented, prefix: SecretToken.nodeCredentialPrefix) else { return nil }
        return try await liveHolder(NodeRecord.self, table: "node", token, hash: \.credentialHash)
    }

    public func markNodeSeen(id: String, now: Date) async throws {
        try await execute("UPDATE node SET last_seen_at = \(now) WHERE id = \(id)")
    }
}
