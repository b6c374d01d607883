import Foundation
import GRDB
import Synchronization

/// API keys that authenticated recently, so a request does not read the database.
///
/// An entry lives at most ``lifetime`` (1 s): a key revoked or an account disabled by another
/// process on the same database (`porten admin …`) stops working within that second. Changes
/// made through this Hub's own connection act at once: every committed write to `api_key` or
/// `account` forgets all entries, and a lookup that raced with such a commit is not remembered
/// (the generation it started under has passed). Only successes are kept; an unknown key always
/// reads the database. Entries are found by the token's SHA-256, never by the presented text: a
/// look-alike string (U+212A for `K`) that the store refuses is not a cached key either.
final class LiveKeyCache: TransactionObserver, Sendable {
    static let lifetime: Duration = .seconds(1)
    static let capacity = 10_000

    private struct Entry {
        let key: AuthenticatedKey
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [[UInt8]: Entry] = [:]
        var generation = 0
        /// Set while a write transaction has changed a watched table, until it commits or rolls back.
        var changed = false

        enum Probe { case hit(AuthenticatedKey), miss(generation: Int) }

        mutating func probe(_ presented: [UInt8], now: ContinuousClock.Instant) -> Probe {
            if let entry = entries[presented] {
                if entry.expires > now { return .hit(entry.key) }
                entries[presented] = nil
            }
            return .miss(generation: generation)
        }
    }

    private let state = Mutex(State())
    /// The time entries expire by; tests pass a hand-moved one.
    private let now: @Sendable () -> ContinuousClock.Instant
    private static let watched: Set<String> = [APIKey.databaseTableName, Account.databaseTableName]

    init(now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) {
        self.now = now
    }

    /// The cached key for the token whose SHA-256 is `presented`, or the result of `lookup`
    /// (remembered when it is a key).
    func key(for presented: [UInt8], lookup: () async throws -> AuthenticatedKey?) async rethrows -> AuthenticatedKey? {
        let now = self.now()
        let generation: Int
        switch state.withLock({ $0.probe(presented, now: now) }) {
        case .hit(let key): return key
        case .miss(let current): generation = current
        }
        guard let key = try await lookup() else { return nil }
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll(keepingCapacity: true) }
            state.entries[presented] = Entry(key: key, expires: now + Self.lifetime)
        }
        return key
    }

    /// Forgets every key, after a change to keys or accounts this process committed itself
    /// (the Postgres engine, which has no commit observer); a lookup in flight is not remembered.
    func invalidate() {
        state.withLock { state in
            state.generation += 1
            state.entries.removeAll()
        }
    }

    // MARK: TransactionObserver (called on the writer's queue)

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool {
        Self.watched.contains(eventKind.tableName)
    }

    func databaseDidChange(with event: DatabaseEvent) {
        state.withLock { $0.changed = true }
    }

    func databaseDidCommit(_ db: Database) {
        state.withLock { state in
            guard state.changed else { return }
            state.changed = false
            state.generation += 1
            state.entries.removeAll()
        }
    }

    func databaseDidRollback(_ db: Database) {
        state.withLock { $0.changed = false }
    }
}
