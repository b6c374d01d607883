import Logging
import PortenHub
import Testing

/// The store's engines, for the contract tests that run every store test against each.
enum StoreEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    /// Runs `body` with a new, empty, migrated store of this engine.
    func withStore<T: Sendable>(_ body: @Sendable (any HubStore) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            return try await body(try SQLiteStore.inMemory())
        case .postgres:
            let store = try PostgresStore(url: try await PostgresTestServer.shared.database(), logger: Logger(label: "test.postgres"))
            return try await store.withRunning {
                try await store.migrate()
                return try await body(store)
            }
        }
    }
}
