import Foundation
import GRDB

extension SQLiteStore {
    public func createAccount(name: String, now: Date) async throws -> Account {
        let account = Account(id: Self.newID("acct"), name: name, createdAt: now, disabledAt: nil)
        try await writer.write { db in try account.insert(db) }
        return account
    }

    public func accounts() async throws -> [Account] {
        try await writer.read { db in try Account.order(Column("created_at")).fetchAll(db) }
    }

    public func account(id: String) async throws -> Account? {
        try await writer.read { db in try Account.fetchOne(db, key: id) }
    }

    /// Disables an account: its keys stop authenticating and its nodes are refused.
    /// - Returns: false when there is no such account.
    @discardableResult
    public func disableAccount(id: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            try Account.filter(key: id).updateAll(db, Column("disabled_at").set(to: now)) > 0
        }
    }
}
