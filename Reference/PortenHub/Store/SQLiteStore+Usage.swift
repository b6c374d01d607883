import Foundation
import GRDB

extension SQLiteStore {
    /// Inserts usage rows and, in the same transaction, each request's ledger postings. The write
    /// runs on the calling thread (see ``insertsUsageInPlace``).
    public func insertUsage(_ records: [UsageRecord], ledger: LedgerPolicy) async throws {
        try insertUsageInPlace(records, ledger: ledger)
    }

    /// True: a batch of usage rows is a few pages appended to the write-ahead log, which costs less
    /// than the two thread hops to GRDB's writer queue and back (measured: −0.13 ms per request at
    /// one connection). A task's cancellation cannot interrupt it. The thread waits when it must:
    /// for another write of this process (a payout run), SQLite's automatic checkpoint (every 1,000
    /// pages of log, a few hundred single-row commits; 5–12 ms on a small VM), or another process
    /// holding the lock (the busy timeout, 5 s); a request writes in place only when it is the only
    /// one in flight (``UsageRecorder``).
    public var insertsUsageInPlace: Bool { true }

    private func insertUsageInPlace(_ records: [UsageRecord], ledger: LedgerPolicy) throws {
        try writer.write { db in
            for record in records {
                try db.cachedStatement(sql: UsageRecord.insertSQL).execute(arguments: record.insertArguments)
                try Self.postUsage(db, record, policy: ledger)
            }
        }
    }

    /// The newest usage rows first, optionally for one key.
    public func recentUsage(limit: Int, keyID: String?) async throws -> [UsageRecord] {
        try await writer.read { db in
            var request = UsageRecord.order(Column("id").desc).limit(limit)
            if let keyID { request = request.filter(Column("key_id") == keyID) }
            return try request.fetchAll(db)
        }
    }
}

/// One day's use of one model by an account.
public struct DailyUsage: Sendable, Equatable, FetchableRecord, Decodable {
    /// `YYYY-MM-DD`, UTC.
    public var day: String
    public var model: String
    public var requests: Int
    public var promptTokens: Int
    public var completionTokens: Int
    /// What the requests cost, in micro-units.
    public var cost: Int64 = 0

    enum CodingKeys: String, CodingKey { case day, model, requests, cost, promptTokens = "prompt_tokens", completionTokens = "completion_tokens" }
}

extension SQLiteStore {
    /// The account's requests and tokens per UTC day and model, since `since`, oldest day first.
    public func dailyUsage(accountID: String, since: Date) async throws -> [DailyUsage] {
        try await writer.read { db in
            try DailyUsage.fetchAll(
                db,
                sql: """
                    SELECT substr(time, 1, 10) AS day, coalesce(model, '') AS model, count(*) AS requests,
                           sum(prompt_tokens) AS prompt_tokens, sum(completion_tokens) AS completion_tokens, sum(cost) AS cost
                    FROM usage WHERE account_id = ? AND time >= ?
                    GROUP BY day, model ORDER BY day, model
                    """, arguments: [accountID, since])
        }
    }
}
