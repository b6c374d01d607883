import Foundation
import Logging
import NIOPosix
import Testing

@testable import PortenHub

/// What only the Postgres engine has: its URL, its migrations under concurrency, and its deadline
/// when the database is gone. (Everything else is the contract suite, run on both engines.)
struct PostgresStoreTests {
    let logger = Logger(label: "test.postgres")

    @Test func urlsAreCheckedAndThePasswordStaysOutOfTheEndpoint() throws {
        let store = try PostgresStore(url: "postgres://hub:s3cret@db.internal:6543/porten?sslmode=require", logger: logger)
        #expect(store.endpoint == "db.internal:6543/porten")
        for bad in ["mysql://x@h/db", "postgres:///db", "not a url", "postgres://u@h/db?sslmode=sometimes"] {
            #expect(throws: StoreError.self, "\(bad)") { try PostgresStore(url: bad, logger: logger) }
        }
    }

    @Test func replicasStartingTogetherMigrateOnce() async throws {
        let url = try await PostgresTestServer.shared.database()
        let stores = try (0..<4).map { _ in try PostgresStore(url: url, logger: logger) }
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for store in stores.dropLast() { group.addTask { try await store.withRunning { try await store.migrate() } } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Exactly one of them applied the migrations; the others found them applied.
        #expect(applied.filter { !$0.isEmpty }.count == 1)
        #expect(applied.flatMap { $0 } == PostgresMigrations.all.map(\.name))
        let last = stores[3]
        let (names, again) = try await last.withRunning { (try await last.appliedMigrations(), try await last.migrate()) }
        #expect(names == PostgresMigrations.all.map(\.name))
        #expect(again.isEmpty)
    }

    @Test func anUnreachableDatabaseIsUnavailableWithinTheDeadline() async throws {
        let port = try Self.closedPort()
        let store = try PostgresStore(url: "postgres://porten@127.0.0.1:\(port)/none", operationTimeout: .seconds(1), logger: logger)
        try await store.withRunning {
            for _ in 0..<2 {
                let started = ContinuousClock.now
                let error = await #expect(throws: StoreError.self) { try await store.accounts() }
                guard case .unavailable? = error else {
                    Issue.record("expected unavailable, got \(String(describing: error))")
                    return
                }
                // Bounded (a hang would be TCP's quarter of an hour), with room for a loaded CI machine.
                #expect(ContinuousClock.now - started < .seconds(10))
            }
        }
    }

    /// A loopback port nothing listens on.
    static func closedPort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress!.port!
        try channel.close().wait()
        return port
    }

    @Test func aStatementWaitingOnALockFailsWithinTheDeadlineAndChangesNothing() async throws {
        let url = try await PostgresTestServer.shared.database()
        let holder = try PostgresStore(url: url, operationTimeout: .seconds(10), logger: logger)
        let waiter = try PostgresStore(url: url, operationTimeout: .seconds(1), logger: logger)
        try await holder.withRunning {
            try await holder.migrate()
            let account = try await holder.createAccount(name: "locked")
            try await waiter.withRunning {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Another replica holds the account's row for 3 s.
                    group.addTask {
                        try await holder.transaction { connection in
                            try await connection.changes("SELECT 1 FROM account WHERE id = \(account.id) FOR UPDATE")
                            try await Task.sleep(for: .seconds(3))
                        }
                    }
                    try await Task.sleep(for: .milliseconds(300))
                    let started = ContinuousClock.now
                    let error = await #expect(throws: StoreError.self) { try await waiter.disableAccount(id: account.id) }
                    guard case .unavailable? = error else {
                        Issue.record("expected unavailable, got \(String(describing: error))")
                        return
                    }
                    // It gave up on the lock instead of waiting for it (that would have succeeded).
                    #expect(ContinuousClock.now - started < .seconds(10))
                    try await group.waitForAll()
                }
                // The statement that timed out did not run later: the account is still enabled.
                #expect(try await waiter.account(id: account.id)?.disabledAt == nil)
            }
        }
    }
}

