import Foundation
import GRDB

extension SQLiteStore {
    /// Adds a node for `accountID`; the plain credential is in the returned token and nowhere else.
    public func createNode(accountID: String, name: String, region: String, trustClass: String, now: Date) async throws -> (
        node: NodeRecord, credential: SecretToken
    ) {
        try await writer.write { db in try Self.insertNode(db, accountID: accountID, name: name, region: region, trustClass: trustClass, now: now) }
    }

    /// Adds a node of `accountID` within a transaction; the plain credential is in the returned token only.
    static func insertNode(_ db: Database, accountID: String, name: String, region: String, trustClass: String, now: Date) throws -> (
        node: NodeRecord, credential: SecretToken
    ) {
        guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
        let token = SecretToken.generate(prefix: SecretToken.nodeCredentialPrefix)
        let node = NodeRecord(
            id: newID("node"), accountID: accountID, name: name, lookupID: token.lookupID, credentialHash: Data(token.hash),
            region: region, trustClass: trustClass, createdAt: now, revokedAt: nil, lastSeenAt: nil)
        try node.insert(db)
        return (node, token)
    }

    public func nodes() async throws -> [NodeRecord] {
        try await writer.read { db in try NodeRecord.order(Column("created_at")).fetchAll(db) }
    }

    /// Sets the operator-assigned region and/or trust class of node `id`.
    public func updateNode(id: String, region: String?, trustClass: String?) async throws -> NodeRecord {
        try await writer.write { db in
            guard var node = try NodeRecord.fetchOne(db, key: id) else { throw StoreError.notFound("node \(id)") }
            if let region { node.region = region }
            if let trustClass { node.trustClass = trustClass }
            try node.update(db)
            return node
        }
    }

    @discardableResult
    public func revokeNode(id: String, now: Date) async throws -> Bool {
        try await writer.write { db in
            try NodeRecord.filter(key: id).filter(Column("revoked_at") == nil).updateAll(db, Column("revoked_at").set(to: now)) > 0
        }
    }

    /// The live node behind a presented credential, or nil.
    public func authenticateNode(_ presented: String) async throws -> NodeRecord? {
        try await liveSecretHolder(
            presented, prefix: SecretToken.nodeCredentialPrefix, hash: \NodeRecord.credentialHash, revokedAt: \.revokedAt,
            accountID: \.accountID)
    }

    public func markNodeSeen(id: String, now: Date) async throws {
        try await writer.write { db in _ = try NodeRecord.filter(key: id).updateAll(db, Column("last_seen_at").set(to: now)) }
    }
}
