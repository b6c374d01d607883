import Foundation
import GRDB

/// The operator's cut of every request, in basis points (`--platform-fee 0.2` → 2000).
public struct LedgerPolicy: Sendable, Equatable {
    public var feeBasisPoints: Int

    public init(feeBasisPoints: Int = 0) { self.feeBasisPoints = feeBasisPoints }
}

extension SQLiteStore {

    /// Posts one balanced transaction inside `db`: the postings must sum to zero. Postings of
    /// zero are left out. Returns false (and posts nothing) when the request id already has
    /// postings: the request id is the idempotency key.
    @discardableResult
    static func post(
        _ db: Database, txn: String, _ postings: [(account: String, kind: LedgerEntry.Kind, amount: Int64)], requestID: String? = nil,
        nodeID: String? = nil, model: String? = nil, memo: String? = nil, at time: Date
    ) throws -> Bool {
        precondition(postings.reduce(0) { $0 + $1.amount } == 0, "unbalanced ledger transaction \(txn)")
        if let requestID, try LedgerEntry.filter(Column("request_id") == requestID).fetchCount(db) > 0 { return false }
        for posting in postings where posting.amount != 0 {
            let entry = LedgerEntry(
                id: nil, txn: txn, ledgerAccount: posting.account, kind: posting.kind, amount: posting.amount, requestID: requestID,
                nodeID: nodeID, model: model, createdAt: time, memo: memo)
            try entry.insert(db)
            try db.execute(
                sql: """
                    INSERT INTO ledger_balance (ledger_account, amount) VALUES (?, ?)
                    ON CONFLICT(ledger_account) DO UPDATE SET amount = amount + excluded.amount
                    """, arguments: [posting.account, posting.amount])
        }
        return true
    }

    /// A request's postings, in the transaction of its usage row: the consumer account pays
    /// `cost`, the node's owner earns it less the platform's fee. Nothing for a request that
    /// cost nothing (an error before any token, a free model).
    static func postUsage(_ db: Database, _ record: UsageRecord, policy: LedgerPolicy) throws {
        guard record.cost > 0, let consumer = record.accountID, let nodeID = record.nodeID,
            let owner = try String.fetchOne(db, sql: "SELECT account_id FROM node WHERE id = ?", arguments: [nodeID])
        else { return }
        let fee = record.cost * Int64(policy.feeBasisPoints) / 10_000
        try post(
            db, txn: record.requestID,
            [(consumer, .charge, -record.cost), (owner, .earning, record.cost - fee), (platformLedger, .fee, fee)],
            requestID: record.requestID, nodeID: nodeID, model: record.model, at: record.time)
    }

    /// The balance of a ledger account (a customer account's id, `platform`, …).
    public func balance(_ ledgerAccount: String) async throws -> Money {
        try await writer.read { db in
            Money(micros: try Int64.fetchOne(db, sql: "SELECT amount FROM ledger_balance WHERE ledger_account = ?", arguments: [ledgerAccount]) ?? 0)
        }
    }

    /// Grants `amount` of credit to an account (from `external`).
    public func grantCredit(accountID: String, amount: Money, memo: String?, now: Date) async throws -> String {
        let txn = Self.newID("credit")
        try await writer.write { db in
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            try Self.post(db, txn: txn, [(accountID, .credit, amount.micros), (Self.externalLedger, .credit, -amount.micros)], memo: memo, at: now)
        }
        return txn
    }

    /// Postings, newest first, optionally of one ledger account and within `[from, to)`.
    public func ledgerEntries(account: String?, from: Date?, to: Date?, limit: Int) async throws -> [LedgerEntry] {
        try await writer.read { db in
            var request = LedgerEntry.order(Column("id").desc).limit(limit)
            if let account { request = request.filter(Column("ledger_account") == account) }
            if let from { request = request.filter(Column("created_at") >= from) }
            if let to { request = request.filter(Column("created_at") < to) }
            return try request.fetchAll(db)
        }
    }

    /// The sum of every posting: zero, always.
    public func ledgerTotal() async throws -> Int64 {
        try await writer.read { db in try Int64.fetchOne(db, sql: "SELECT coalesce(sum(amount), 0) FROM ledger_entry") ?? 0 }
    }

    /// An account's earnings per UTC day, node and model since `since`.
    public func dailyEarnings(accountID: String, since: Date) async throws -> [(day: String, node: String, model: String, amount: Money)] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT substr(created_at, 1, 10) AS day, coalesce(node_id, '') AS node, coalesce(model, '') AS model, sum(amount) AS amount
                    FROM ledger_entry WHERE ledger_account = ? AND kind = 'earning' AND created_at >= ?
                    GROUP BY day, node, model ORDER BY day DESC, node, model
                    """, arguments: [accountID, since]
            ).map { ($0["day"], $0["node"], $0["model"], Money(micros: $0["amount"])) }
        }
    }
}
