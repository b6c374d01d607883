import Foundation
import Logging
import PostgresNIO
import Synchronization

/// The Hub's store on PostgreSQL, for replicas that share one database (`--database-url
/// postgres://…`). Same tables, migration names and behaviour as ``SQLiteStore``; the contract
/// suite runs against both. Every call has a deadline (``PostgresStore/operationTimeout``): with
/// the database down, a request gets ``StoreError/unavailable(_:)`` (a `503`) in bounded time,
/// never a hang, and the next call after it returns works again.
///
/// Its connection pool runs inside ``withRunning(_:)``, around everything that uses the store.
public struct PostgresStore: HubStore {
    let client: PostgresClient
    let logger: Logger
    /// At most this long per operation, connection included.
    let operationTimeout: Duration
    /// `host:port/database`, for logs (never the password).
    public let endpoint: String
    /// API keys that authenticated in the last second; another replica's change applies within that second.
    let liveKeys = LiveKeyCache()
    private let poolStarted = Once()

    public init(url: String, operationTimeout: Duration = .seconds(5), logger: Logger) throws {
        var configuration = try Self.configuration(url: url)
        configuration.options.connectTimeout = operationTimeout
        endpoint = "\(configuration.host ?? "?"):\(configuration.port ?? 5432)/\(configuration.database ?? "")"
        client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        self.operationTimeout = operationTimeout
    }

    /// `postgres://user:password@host:port/database?sslmode=disable|prefer|require`.
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme ?? ""),
            let host = components.host, !host.isEmpty
        else {
            throw StoreError.invalidConfiguration("the database URL must look like postgres://user:password@host:5432/database")
        }
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw StoreError.invalidConfiguration("sslmode must be disable, prefer or require, not \(mode)")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        return PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
            database: database.isEmpty ? nil : database, tls: tls)
    }

    /// Runs `body` with the connection pool running; the pool stops when `body` returns. Once
    /// per store: a pool does not start again.
    public func withRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        guard poolStarted.claim() else { throw StoreError.invalidConfiguration("this store's connection pool already ran; open another store") }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// Brings the schema up to date (``PostgresMigrations``); returns the migrations applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await PostgresMigrations.migrate(self)
    }

    // MARK: Bounded operations

    /// `body` within ``operationTimeout``; a database that does not answer, or refuses the
    /// connection, is ``StoreError/unavailable(_:)``. Errors of the store's own (not found,
    /// conflict, a refusal) pass through.
    func bounded<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
        let timeout = operationTimeout
        do {
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let result = first else {
                    throw StoreError.unavailable("the database did not answer within \(timeout)")
                }
                return result
            }
        } catch let error as PSQLError {
            if let code = error.serverInfo?[.sqlState] {
                if code == "23505" { throw StoreError.conflict(error.serverInfo?[.message] ?? "a row") }
                throw StoreError.database("\(code): \(error.serverInfo?[.message] ?? "")")
            }
            throw StoreError.unavailable("the database is unreachable (\(error.code))")
        } catch is CancellationError where !Task.isCancelled {
            throw StoreError.unavailable("the database did not answer within \(timeout)")
        }
    }

    /// One transaction, within the deadline.
    func transaction<Result: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let (client, logger) = (client, logger)
        return try await bounded {
            do {
                return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
            } catch let error as PostgresTransactionError {
                // The store's own refusals (not found, a used-up token…) pass through as themselves.
                if let refusal = error.closureError, !(refusal is PSQLError) { throw refusal }
                throw (error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError) ?? error
            }
        }
    }

    /// Every row of `query` as `Record`.
    func fetchAll<Record: Decodable & Sendable>(_ type: Record.Type, _ query: PostgresQuery) async throws -> [Record] {
        let client = client
        return try await bounded { try await Self.fetchAll(type, query, on: client) }
    }

    func fetchOne<Record: Decodable & Sendable>(_ type: Record.Type, _ query: PostgresQuery) async throws -> Record? {
        try await fetchAll(type, query).first
    }

    /// Runs `query`; returns the number of rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) async throws -> Int {
        let client = client
        return try await bounded { try await Self.execute(query, on: client) }
    }

    static func fetchAll<Record: Decodable>(_ type: Record.Type, _ query: PostgresQuery, on runner: some PostgresQueryRunner) async throws -> [Record] {
        var records: [Record] = []
        for try await row in try await runner.run(query) { records.append(try PostgresRowDecoder.decode(type, from: row)) }
        return records
    }

    static func fetchOne<Record: Decodable>(_ type: Record.Type, _ query: PostgresQuery, on runner: some PostgresQueryRunner) async throws -> Record? {
        try await fetchAll(type, query, on: runner).first
    }

    /// The first column of every row.
    static func fetchColumn<Value: PostgresDecodable>(_ type: Value.Type, _ query: PostgresQuery, on runner: some PostgresQueryRunner) async throws -> [Value] {
        var values: [Value] = []
        for try await row in try await runner.run(query) { values.append(try row.makeRandomAccess()[0].decode(Value.self)) }
        return values
    }

    @discardableResult
    static func execute(_ query: PostgresQuery, on runner: some PostgresQueryRunner) async throws -> Int {
        try await runner.changes(query)
    }

    static func insert(_ record: some Encodable, into table: String, on runner: some PostgresQueryRunner) async throws {
        try await runner.changes(try PostgresRowEncoder.insert(record, into: table))
    }
}

/// What runs a query: the pool (a connection per query) or one connection in a transaction.
protocol PostgresQueryRunner: Sendable {
    func run(_ query: PostgresQuery) async throws -> PostgresRowSequence
}

extension PostgresQueryRunner {
    /// Runs `query` and returns how many rows it returned: an `UPDATE` or `DELETE` whose count
    /// matters ends in `RETURNING 1`.
    @discardableResult
    func changes(_ query: PostgresQuery) async throws -> Int {
        var count = 0
        for try await _ in try await run(query) { count += 1 }
        return count
    }
}

extension PostgresClient: PostgresQueryRunner {
    func run(_ query: PostgresQuery) async throws -> PostgresRowSequence { try await self.query(query) }
}

extension PostgresConnection: PostgresQueryRunner {
    func run(_ query: PostgresQuery) async throws -> PostgresRowSequence { try await self.query(query, logger: Self.quiet) }
    static let quiet = Logger(label: "porten.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}

/// True for the first caller of ``claim()`` only.
final class Once: Sendable {
    private let claimed = Mutex(false)

    func claim() -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}
