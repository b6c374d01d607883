import Foundation
import GRDB
import PostgresNIO

/// Copies a Hub's SQLite database into an empty PostgreSQL database (`porten admin migrate
/// sqlite-to-postgres`): every table and every column, ids kept, in one Postgres transaction —
/// all or nothing. Secrets' hashes are copied as they are, so API keys, node credentials,
/// sessions and links go on working; the identity sequences are set past the copied ids.
///
/// The copy is generic over the schema: each column goes over by the type the Postgres
/// migrations gave it, and a table or column on one side only (a migration one engine lacks) is a
/// refusal, never a silent loss.
public enum StoreCopy {
    /// Every table of the schema, in the order they are copied: each after the tables it references.
    public static let tables = [
        "account", "api_key", "node", "catalog_model", "catalog_switch", "usage", "portal_user", "portal_session", "password_link",
        "device_authorization", "enrollment_token", "enrollment_use", "ledger_entry", "ledger_balance", "payout_account", "payout_run",
        "payout",
    ]

    /// Tables the copy replaces rather than refuses when the target has rows in them: the Hub
    /// rewrites `catalog_model` from its catalog file at every start, so a Hub started once on the
    /// new database leaves it filled.
    static let replaced: Set<String> = ["catalog_model"]

    /// Rows per `INSERT` at most (and at most 30 000 values: a statement takes 65 535 parameters).
    static let rowsPerStatement = 500

    /// Copies `source` into `target`, which is migrated first and must hold no data. Returns the
    /// rows copied per table. `target`'s pool must be running (``PostgresStore/withRunning(_:)``).
    /// A refusal (a target with data, migrations that differ) is a ``StoreError`` whose
    /// description says why; nothing is written to the target then.
    public static func sqliteToPostgres(from source: SQLiteStore, to target: PostgresStore) async throws -> [String: Int] {
        try await target.migrate()
        // A file database is read from one snapshot: every table as of the same moment.
        let reader: any DatabaseReader
        if let pool = source.writer as? DatabasePool { reader = try pool.makeSnapshot() } else { reader = source.writer }
        let plan = try await reader.read { db in try SourcePlan(db) }
        try checkMigrations(source: plan.migrations, target: try await target.appliedMigrations())
        let types = try await targetColumns(target)
        try checkSchemas(source: plan.columns, target: types)
        let identities = try await target.fetchAll(
            TargetColumn.self, """
                SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type
                FROM information_schema.columns WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY 1, 2
                """)

        return try await inTransaction(target) { connection in
            // A copy takes as long as the data needs: no statement or idle-time limit of the session's.
            try await connection.changes("SET LOCAL statement_timeout = 0")
            try await connection.changes("SET LOCAL idle_in_transaction_session_timeout = 0")
            try await connection.changes("SET LOCAL lock_timeout = '60s'")
            // The migrations' lock: a Hub starting on this database meanwhile waits for the copy.
            try await connection.changes("SELECT pg_advisory_xact_lock(7041982)")
            // And nothing else writes these tables until the copy commits: no merging by accident.
            try await connection.changes(PostgresQuery(unsafeSQL: "LOCK TABLE \(tables.map(quoted).joined(separator: ", ")) IN EXCLUSIVE MODE"))
            var filled: [String] = []
            for table in tables where !replaced.contains(table) {
                let rows = try await count(table, on: connection)
                if rows > 0 { filled.append("\(table) has \(rows) row\(rows == 1 ? "" : "s")") }
            }
            guard filled.isEmpty else {
                throw StoreError.invalidConfiguration(
                    "The Postgres database \(target.endpoint) already holds data (\(filled.joined(separator: ", "))). "
                        + "The copy only fills an empty database and never merges: give it a new database.")
            }
            for table in replaced { try await connection.changes(PostgresQuery(unsafeSQL: "DELETE FROM \(quoted(table))")) }

            var copied: [String: Int] = [:]
            for table in tables {
                copied[table] = try await copy(table, columns: plan.columns[table]!, types: types[table]!, from: reader, on: connection)
            }
            for identity in identities {
                let (table, column) = (quoted(identity.table), quoted(identity.column))
                try await connection.changes(
                    PostgresQuery(
                        unsafeSQL: """
                            SELECT setval(pg_get_serial_sequence('\(table)', '\(identity.column)'), coalesce(max(\(column)), 0) + 1, false) FROM \(table)
                            """))
            }
            // What arrived is what was there: the snapshot's counts, row for row.
            for table in tables {
                let arrived = try await count(table, on: connection)
                guard copied[table] == plan.counts[table], arrived == Int64(plan.counts[table]!) else {
                    throw StoreError.database(
                        "the copy of \(table) holds \(arrived) rows but the SQLite database has \(plan.counts[table]!); nothing was copied")
                }
            }
            return copied
        }
    }

    // MARK: Checks

    /// The source's migrations (all of them, as its `grdb_migrations` table records them), its
    /// tables and their columns in order, and their row counts.
    struct SourcePlan: Sendable {
        var migrations: [String]
        var columns: [String: [String]] = [:]
        var counts: [String: Int] = [:]

        init(_ db: Database) throws {
            guard try db.tableExists("grdb_migrations") else {
                throw StoreError.invalidConfiguration("The SQLite database is not a Porten Hub database: it records no migrations.")
            }
            migrations = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
            let names = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
            for table in names {
                columns[table] = try db.columns(in: table).map(\.name)
                counts[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(quoted(table))") ?? 0
            }
        }
    }

    struct TargetColumn: Decodable, Sendable {
        var table: String
        var column: String
        var type: String
        enum CodingKeys: String, CodingKey { case table = "table_name", column = "column_name", type = "data_type" }
    }

    /// Each table's columns and their Postgres types (`bigint`, `timestamp with time zone`…).
    static func targetColumns(_ target: PostgresStore) async throws -> [String: [String: String]] {
        let columns = try await target.fetchAll(
            TargetColumn.self, """
                SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type
                FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'porten_migration'
                """)
        return columns.reduce(into: [:]) { $0[$1.table, default: [:]][$1.column] = $1.type }
    }

    /// Both engines apply the same named migrations; a source with others is from another version.
    static func checkMigrations(source: [String], target: [String]) throws {
        let expected = PostgresMigrations.all.map(\.name)
        let missing = expected.filter { !source.contains($0) }
        let unknown = source.filter { !expected.contains($0) }
        if !missing.isEmpty || !unknown.isEmpty {
            var reasons: [String] = []
            if !missing.isEmpty { reasons.append("it lacks \(missing.joined(separator: ", ")) (start this version's Hub on it once to apply them)") }
            if !unknown.isEmpty {
                reasons.append("it has \(unknown.joined(separator: ", ")), which this version's Postgres schema does not (copy with the Porten version that wrote it)")
            }
            throw StoreError.invalidConfiguration(
                "The SQLite database's migrations differ from the Postgres schema's: \(reasons.joined(separator: "; ")).")
        }
        let newer = target.filter { !expected.contains($0) }
        guard newer.isEmpty else {
            throw StoreError.invalidConfiguration(
                "The Postgres database has migrations this version does not know (\(newer.joined(separator: ", "))): a newer Porten set it up.")
        }
    }

    /// The same tables, with the same columns, on both sides, and each of them copied.
    static func checkSchemas(source: [String: [String]], target: [String: [String: String]]) throws {
        let known = Set(tables)
        for table in Set(source.keys).union(target.keys).sorted() {
            guard known.contains(table) else {
                throw StoreError.invalidConfiguration("The table \(table) is not one the copy knows; StoreCopy.tables must list it.")
            }
        }
        for table in tables {
            guard let sourceColumns = source[table] else { throw StoreError.invalidConfiguration("The SQLite database has no table \(table).") }
            guard let targetColumns = target[table] else { throw StoreError.invalidConfiguration("The Postgres database has no table \(table).") }
            let onlySource = sourceColumns.filter { targetColumns[$0] == nil }
            let onlyTarget = targetColumns.keys.filter { !sourceColumns.contains($0) }.sorted()
            guard onlySource.isEmpty, onlyTarget.isEmpty else {
                throw StoreError.invalidConfiguration(
                    "The table \(table) has different columns in the two databases: "
                        + "only in SQLite: \(onlySource.isEmpty ? "none" : onlySource.joined(separator: ", ")); "
                        + "only in Postgres: \(onlyTarget.isEmpty ? "none" : onlyTarget.joined(separator: ", ")).")
            }
        }
    }

    // MARK: Copying

    /// Copies `table` in pages of rows (by rowid, so memory stays bounded); returns the rows copied.
    static func copy(
        _ table: String, columns: [String], types: [String: String], from reader: any DatabaseReader, on connection: PostgresConnection
    ) async throws -> Int {
        let perStatement = max(1, min(rowsPerStatement, 30_000 / max(columns.count, 1)))
        let select = "SELECT rowid, \(columns.map(quoted).joined(separator: ", ")) FROM \(quoted(table)) WHERE rowid > ? ORDER BY rowid LIMIT ?"
        let insert = "INSERT INTO \(quoted(table)) (\(columns.map(quoted).joined(separator: ", "))) VALUES "
        var after = Int64.min
        var copied = 0
        while true {
            let start = after
            let page: [(rowid: Int64, values: [DatabaseValue])] = try await reader.read { db in
                try Row.fetchAll(db, sql: select, arguments: [start, perStatement]).map { row in
                    (row[0], (1...columns.count).map { row[$0] as DatabaseValue })
                }
            }
            guard let last = page.last else { return copied }
            var bindings = PostgresBindings(capacity: page.count * columns.count)
            var tuples: [String] = []
            for row in page {
                var cells: [String] = []
                for (column, value) in zip(columns, row.values) {
                    if value.isNull {
                        cells.append("NULL")
                        continue
                    }
                    try append(value, as: types[column]!, to: &bindings, at: "\(table) row \(row.rowid), column \(column)")
                    cells.append("$\(bindings.count)")
                }
                tuples.append("(" + cells.joined(separator: ", ") + ")")
            }
            do {
                try await connection.changes(PostgresQuery(unsafeSQL: insert + tuples.joined(separator: ", "), binds: bindings))
            } catch let error as PSQLError {
                let reason = error.serverInfo.map { "\($0[.sqlState] ?? ""): \($0[.message] ?? "")" } ?? "\(error.code)"
                throw StoreError.database("copying \(table) (rows \(page[0].rowid) to \(last.rowid)): \(reason); nothing was copied")
            }
            copied += page.count
            after = last.rowid
        }
    }

    /// `value` as the Postgres column type `type`: a date from GRDB's text, a boolean from 0 or 1.
    /// (Text never holds U+0000, which Postgres cannot store: GRDB reads SQLite's text up to it.)
    static func append(_ value: DatabaseValue, as type: String, to bindings: inout PostgresBindings, at place: String) throws {
        switch (type, value.storage) {
        case ("text", .string(let text)): bindings.append(text)
        case ("bytea", .blob(let data)): try bindings.append(data)
        case ("bigint", .int64(let number)): bindings.append(number)
        case ("boolean", .int64(let number)) where number == 0 || number == 1: bindings.append(number == 1)
        case ("double precision", .double(let number)): bindings.append(number)
        case ("double precision", .int64(let number)): bindings.append(Double(number))
        case ("timestamp with time zone", _) where Date.fromDatabaseValue(value) != nil: bindings.append(Date.fromDatabaseValue(value)!)
        default:
            let kind =
                switch value.storage {
                case .null: "null"
                case .int64: "an integer"
                case .double: "a real number"
                case .string: "text"
                case .blob: "a blob"
                }
            throw StoreError.invalidConfiguration("The SQLite database's \(place) holds \(kind), which is not a valid \(type); nothing was copied.")
        }
    }

    static func count(_ table: String, on connection: PostgresConnection) async throws -> Int64 {
        try await PostgresStore.fetchColumn(Int64.self, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(quoted(table))"), on: connection).first ?? 0
    }

    /// `"name"`: table and column names come from the schema, and some (`user`, `time`) are keywords.
    static func quoted(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// `body` in one transaction, without the store's per-operation deadline: a copy takes as long
    /// as the data needs. Refusals pass through; the database's errors become ``StoreError``s.
    static func inTransaction<Result: Sendable>(
        _ target: PostgresStore, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        func described(_ error: any Error) -> any Error {
            guard let error = error as? PSQLError else { return error }
            if let code = error.serverInfo?[.sqlState] { return StoreError.database("\(code): \(error.serverInfo?[.message] ?? "")") }
            return StoreError.unavailable("the database is unreachable (\(error.code))")
        }
        do {
            return try await target.client.withTransaction(logger: target.logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let refusal = error.closureError, !(refusal is PSQLError) { throw refusal }
            throw described((error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError) ?? error)
        } catch {
            throw described(error)
        }
    }
}

extension SQLiteStore {
    /// Opens the database at `path` read-only and as it is (not migrated, never created): the
    /// source of a copy.
    public static func openReadOnly(path: String) throws -> SQLiteStore {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreError.notFound("the SQLite database \(path)") }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        return SQLiteStore(writer: try DatabasePool(path: path, configuration: configuration))
    }
}
