import Foundation
import Logging
import OpenAIWire
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
        // The server gives up on its own, too: no statement or lock wait outlives the request that
        // asked, and a transaction left open by a replica that froze does not hold its locks forever.
        let milliseconds = Int(operationTimeout / .milliseconds(1))
        configuration.options.additionalStartupParameters = [
            ("statement_timeout", "\(milliseconds)"), ("lock_timeout", "\(milliseconds)"),
            ("idle_in_transaction_session_timeout", "\(milliseconds * 4)"),
        ]
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
        // As libpq: require encrypts without checking the certificate; verify-ca and verify-full check it.
        var unverified = TLSConfiguration.makeClientConfiguration()
        unverified.certificateVerification = .none
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(unverified)
        case "require": tls = .require(unverified)
        case "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw StoreError.invalidConfiguration("sslmode must be disable, prefer, require, verify-ca or verify-full, not \(mode)")
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

    /// Throws ``StoreError/unavailable(_:)`` unless the database answers within the deadline: a
    /// Hub that starts without it says so and exits, instead of waiting on its migrations.
    public func check() async throws {
        try await bounded { try await $0.changes("SELECT 1") }
    }

    /// Brings the schema up to date (``PostgresMigrations``); returns the migrations applied now.
    @discardableResult
    public func migrate() async throws -> [String] {
        try await PostgresMigrations.migrate(self, timeout: .seconds(600))
    }

    // MARK: Bounded operations

    /// `body` on a connection of the pool, within ``operationTimeout`` (or `timeout`): past it the
    /// connection is closed under the statement (the server rolls back what it had begun) and the
    /// call fails with ``StoreError/unavailable(_:)``, as it does when the database refuses or drops
    /// the connection. The store's own refusals (not found, conflict, a used-up token…) pass through.
    func bounded<Result: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let timeout = timeout ?? operationTimeout
        let client = client
        do {
            return try await withThrowingTaskGroup(of: Result?.self) { group in
                group.addTask {
                    try await client.withConnection { connection in
                        try await withTaskCancellationHandler {
                            try await body(connection)
                        } onCancel: {
                            // A statement waiting on the server cannot be cancelled: its connection can.
                            connection.close().whenComplete { _ in }
                        }
                    }
                }
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
        } catch {
            throw Self.storeError(error, timeout: timeout)
        }
    }

    /// What a failure means to the Hub: the store's own refusals as they are; a duplicate as
    /// ``StoreError/conflict(_:)``; a value the database cannot hold as
    /// ``StoreError/invalidValue(_:)``; anything that says the database is down, restarting,
    /// read-only, overloaded or unreachable as ``StoreError/unavailable(_:)``.
    static func storeError(_ error: any Error, timeout: Duration) -> any Error {
        switch error {
        case is StoreError, is EnrollmentRefusal, is PayoutRunError, is APIError, is DecodingError, is EncodingError:
            return error
        case let error as PSQLError:
            guard let code = error.serverInfo?[.sqlState] else { return StoreError.unavailable("the database is unreachable (\(error.code))") }
            let message = error.serverInfo?[.message] ?? ""
            if code == "23505" { return StoreError.conflict(message) }
            if code.hasPrefix("22") { return StoreError.invalidValue(message) }
            if ["08", "53", "57", "40", "58"].contains(where: code.hasPrefix) || ["25006", "55P03", "55006"].contains(code) {
                return StoreError.unavailable("\(code): \(message)")
            }
            return StoreError.database("\(code): \(message)")
        case is CancellationError where !Task.isCancelled:
            return StoreError.unavailable("the database did not answer within \(timeout)")
        case is CancellationError:
            return error
        default:
            // The pool's own errors (shut down, its circuit breaker open after a long outage), TLS…
            return StoreError.unavailable("\(error)")
        }
    }

    /// One transaction, within the deadline; run again (up to three times in all) when Postgres
    /// aborted it for a deadlock or a serialization failure.
    func transaction<Result: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        var attempt = 1
        while true {
            do {
                return try await bounded(timeout: timeout) { connection in
                    do {
                        return try await connection.withTransaction(logger: logger) { connection in try await body(connection) }
                    } catch let error as PostgresTransactionError {
                        throw (error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError) ?? error
                    }
                }
            } catch let error as PSQLError where attempt < 3 && ["40P01", "40001"].contains(error.serverInfo?[.sqlState] ?? "") {
                attempt += 1
            } catch StoreError.unavailable(let why) where attempt < 3 && (why.hasPrefix("40P01") || why.hasPrefix("40001")) {
                attempt += 1
            }
        }
    }

    /// Every row of `query` as `Record`.
    func fetchAll<Record: Decodable & Sendable>(_ type: Record.Type, _ query: PostgresQuery) async throws -> [Record] {
        try await bounded { try await Self.fetchAll(type, query, on: $0) }
    }

    func fetchOne<Record: Decodable & Sendable>(_ type: Record.Type, _ query: PostgresQuery) async throws -> Record? {
        try await fetchAll(type, query).first
    }

    /// Runs `query`; returns the number of rows it changed.
    @discardableResult
    func execute(_ query: PostgresQuery) async throws -> Int {
        try await bounded { try await Self.execute(query, on: $0) }
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
