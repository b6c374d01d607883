import Foundation
import GRDB

/// The Hub's SQLite database: accounts, keys, nodes, catalog and usage, behind named migrations.
public struct SQLiteStore: HubStore {
    let writer: any DatabaseWriter
    /// Keys that authenticated in the last second (``authenticateKey(_:)``).
    let liveKeys: LiveKeyCache

    init(writer: any DatabaseWriter, liveKeys: LiveKeyCache = LiveKeyCache()) {
        self.writer = writer
        self.liveKeys = liveKeys
        writer.add(transactionObserver: liveKeys, extent: .databaseLifetime)
    }

    /// Opens (creating if needed) the database at `path` in WAL mode and migrates it.
    public static func open(path: String) throws -> SQLiteStore {
        try open(path: path, liveKeys: LiveKeyCache())
    }

    static func open(path: String, liveKeys: LiveKeyCache) throws -> SQLiteStore {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let store = SQLiteStore(writer: try DatabasePool(path: path, configuration: configuration), liveKeys: liveKeys)
        try store.migrate()
        return store
    }

    /// A private in-memory database, for tests.
    public static func inMemory() throws -> SQLiteStore {
        let store = SQLiteStore(writer: try DatabaseQueue())
        try store.migrate()
        return store
    }

    /// The migrations, applied in order; each name is applied once per database.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-accounts-keys-nodes") { db in
            try db.create(table: "account") { t in
                t.primaryKey("id", .text)
                t.column("name", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("disabled_at", .datetime)
            }
            try db.create(table: "api_key") { t in
                t.primaryKey("id", .text)
                t.column("account_id", .text).notNull().references("account")
                t.column("name", .text).notNull()
                t.column("lookup_id", .text).notNull().unique()
                t.column("secret_hash", .blob).notNull()
                t.column("display_prefix", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("revoked_at", .datetime)
                t.column("allowed_regions", .text)
                t.column("min_trust_class", .text)
                t.column("own_nodes_only", .boolean).notNull().defaults(to: false)
                t.column("model_allowlist", .text)
                t.column("requests_per_minute", .integer)
                t.column("tokens_per_minute", .integer)
            }
            try db.create(table: "node") { t in
                t.primaryKey("id", .text)
                t.column("account_id", .text).notNull().references("account")
                t.column("name", .text).notNull()
                t.column("lookup_id", .text).notNull().unique()
                t.column("credential_hash", .blob).notNull()
                t.column("region", .text).notNull()
                t.column("trust_class", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("revoked_at", .datetime)
                t.column("last_seen_at", .datetime)
            }
        }
        migrator.registerMigration("v1-catalog") { db in
            try db.create(table: "catalog_model") { t in
                t.primaryKey("id", .text)
                t.column("type", .text).notNull()
                t.column("ctx", .integer).notNull()
                t.column("capabilities", .text).notNull()
                t.column("vram_mb", .integer).notNull()
                t.column("disk_mb", .integer).notNull()
                t.column("download_ref", .text)
                t.column("sha256", .text)
                t.column("price_input", .double).notNull()
                t.column("price_output", .double).notNull()
                t.column("enabled", .boolean).notNull()
                t.column("owned_by", .text).notNull()
            }
        }
        migrator.registerMigration("v1-usage") { db in
            try db.create(table: "usage") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("time", .datetime).notNull().indexed()
                t.column("request_id", .text).notNull()
                t.column("key_id", .text).indexed()
                t.column("account_id", .text)
                t.column("node_id", .text)
                t.column("region", .text)
                t.column("model", .text)
                t.column("endpoint", .text).notNull()
                t.column("prompt_tokens", .integer).notNull()
                t.column("completion_tokens", .integer).notNull()
                t.column("status", .integer).notNull()
                t.column("latency_ms", .integer).notNull()
                t.column("ttft_ms", .integer)
            }
        }
        migrator.registerMigration("v2-usage-user-metadata") { db in
            try db.alter(table: "usage") { t in
                t.add(column: "user", .text)
                t.add(column: "metadata", .text)
            }
        }
        migrator.registerMigration("v3-usage-attempts") { db in
            try db.alter(table: "usage") { t in t.add(column: "attempts", .integer).notNull().defaults(to: 1) }
        }
        migrator.registerMigration("v4-portal-users-sessions") { db in
            try db.alter(table: "api_key") { t in t.add(column: "purpose", .text).notNull().defaults(to: "api") }
            try db.create(table: "portal_user") { t in
                t.primaryKey("id", .text)
                t.column("account_id", .text).notNull().references("account")
                t.column("email", .text).notNull().unique()
                t.column("display_name", .text).notNull()
                t.column("role", .text).notNull()
                t.column("is_operator", .boolean).notNull().defaults(to: false)
                t.column("password_hash", .text)
                t.column("created_at", .datetime).notNull()
                t.column("disabled_at", .datetime)
            }
            try db.create(table: "portal_session") { t in
                t.primaryKey("token_hash", .blob)
                t.column("user_id", .text).notNull().references("portal_user").indexed()
                t.column("csrf_token", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("expires_at", .datetime).notNull()
            }
            try db.create(table: "catalog_switch") { t in
                t.primaryKey("model_id", .text)
                t.column("enabled", .boolean).notNull()
                t.column("changed_at", .datetime).notNull()
            }
            try db.create(table: "password_link") { t in
                t.primaryKey("token_hash", .blob)
                t.column("user_id", .text).notNull().references("portal_user")
                t.column("expires_at", .datetime).notNull()
                t.column("used_at", .datetime)
            }
        }
        migrator.registerMigration("v5-enrollment") { db in
            try db.create(table: "device_authorization") { t in
                t.primaryKey("device_code_hash", .blob)
                t.column("user_code", .text).notNull().unique()
                t.column("machine_name", .text).notNull()
                t.column("status", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("expires_at", .datetime).notNull()
                t.column("interval", .integer).notNull()
                t.column("last_poll_at", .datetime)
                t.column("account_id", .text)
                t.column("approved_by", .text)
                t.column("node_id", .text)
            }
            try db.create(table: "enrollment_token") { t in
                t.primaryKey("id", .text)
                t.column("account_id", .text).notNull().references("account")
                t.column("lookup_id", .text).notNull().unique()
                t.column("token_hash", .blob).notNull()
                t.column("display_prefix", .text).notNull()
                t.column("name_prefix", .text).notNull()
                t.column("uses_allowed", .integer).notNull()
                t.column("uses", .integer).notNull().defaults(to: 0)
                t.column("created_at", .datetime).notNull()
                t.column("expires_at", .datetime).notNull()
                t.column("revoked_at", .datetime)
            }
            try db.create(table: "enrollment_use") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("token_id", .text).notNull().references("enrollment_token").indexed()
                t.column("node_id", .text).notNull()
                t.column("used_at", .datetime).notNull()
                t.column("address", .text)
            }
        }
        migrator.registerMigration("v6-ledger") { db in
            try db.alter(table: "usage") { t in
                t.add(column: "price_input", .integer).notNull().defaults(to: 0)
                t.add(column: "price_output", .integer).notNull().defaults(to: 0)
                t.add(column: "cost", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "ledger_entry") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("txn", .text).notNull().indexed()
                t.column("ledger_account", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("amount", .integer).notNull()
                t.column("request_id", .text)
                t.column("node_id", .text)
                t.column("model", .text)
                t.column("created_at", .datetime).notNull()
                t.column("memo", .text)
            }
            try db.create(index: "ledger_entry_account_time", on: "ledger_entry", columns: ["ledger_account", "created_at"])
            // The request id is the idempotency key: one posting per request and ledger account.
            try db.execute(
                sql: "CREATE UNIQUE INDEX ledger_entry_request ON ledger_entry (request_id, ledger_account, kind) WHERE request_id IS NOT NULL")
            try db.create(table: "ledger_balance") { t in
                t.primaryKey("ledger_account", .text)
                t.column("amount", .integer).notNull()
            }
            try db.create(table: "payout_account") { t in
                t.primaryKey("account_id", .text).references("account")
                t.column("holder", .text).notNull()
                t.column("iban", .text).notNull()
                t.column("bic", .text).notNull()
                t.column("updated_at", .datetime).notNull()
            }
            try db.create(table: "payout_run") { t in
                t.primaryKey("period", .text)
                t.column("created_at", .datetime).notNull()
                t.column("minimum", .integer).notNull()
                t.column("debtor_name", .text).notNull()
                t.column("debtor_iban", .text).notNull()
                t.column("debtor_bic", .text).notNull()
            }
            try db.create(table: "payout") { t in
                t.primaryKey("id", .text)
                t.column("period", .text).notNull().indexed()
                t.column("account_id", .text).notNull()
                t.column("amount", .integer).notNull()
                t.column("holder", .text).notNull()
                t.column("iban", .text).notNull()
                t.column("bic", .text).notNull()
                t.column("status", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("settled_at", .datetime)
                t.uniqueKey(["period", "account_id"])
            }
        }
        return migrator
    }

    func migrate() throws { try Self.migrator.migrate(writer) }

    /// Names of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await writer.read { db in try Self.migrator.appliedMigrations(db) }
    }

}
