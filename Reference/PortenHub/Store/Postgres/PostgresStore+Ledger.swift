import Foundation
import PostgresNIO

extension PostgresStore {
    // MARK: Usage

    /// False: rows go over the network, and a cancelled task's query may be cut short.
    public var insertsUsageInPlace: Bool { false }

    public func insertUsage(_ records: [UsageRecord], ledger: LedgerPolicy) async throws {
        guard !records.isEmpty else { return }
        try await transaction { connection in
            var balances = Balances()
            for record in records {
                try await Self.insert(record, into: "usage", on: connection)
                try await Self.postUsage(record, policy: ledger, balances: &balances, on: connection)
            }
            try await balances.apply(on: connection)
        }
    }

    public func recentUsage(limit: Int, keyID: String?) async throws -> [UsageRecord] {
        if let keyID { return try await fetchAll(UsageRecord.self, "SELECT * FROM usage WHERE key_id = \(keyID) ORDER BY id DESC LIMIT \(limit)") }
        return try await fetchAll(UsageRecord.self, "SELECT * FROM usage ORDER BY id DESC LIMIT \(limit)")
    }

    public func dailyUsage(accountID: String, since: Date) async throws -> [DailyUsage] {
        try await fetchAll(DailyUsage.self, """
            SELECT to_char("time" AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, coalesce(model, '') AS model, count(*) AS requests,
                   sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens, sum(cost)::bigint AS cost
            FROM usage WHERE account_id = \(accountID) AND "time" >= \(since)
            GROUP BY 1, 2 ORDER BY 1, coalesce(model, '') COLLATE "C"
            """)
    }

    // MARK: Ledger

    /// Posts one balanced transaction on `connection`; postings of zero are left out. False (and
    /// nothing posted) when the request id already has postings: it is the idempotency key. Two
    /// replicas posting one request id take turns (a transaction lock on it), so the second sees
    /// the first's postings; the unique index is the backstop. The balances move in `balances`,
    /// applied once at the end of the database transaction.
    @discardableResult
    static func post(
        _ txn: String, _ postings: [(account: String, kind: LedgerEntry.Kind, amount: Int64)], requestID: String? = nil, nodeID: String? = nil,
        model: String? = nil, memo: String? = nil, at time: Date, balances: inout Balances, on connection: PostgresConnection
    ) async throws -> Bool {
        precondition(postings.reduce(0) { $0 + $1.amount } == 0, "unbalanced ledger transaction \(txn)")
        if let requestID {
            try await connection.changes("SELECT pg_advisory_xact_lock(7041985, hashtext(\(requestID)))")
            if try await connection.changes("SELECT 1 FROM ledger_entry WHERE request_id = \(requestID) LIMIT 1") > 0 { return false }
        }
        for posting in postings where posting.amount != 0 {
            let entry = LedgerEntry(
                id: nil, txn: txn, ledgerAccount: posting.account, kind: posting.kind, amount: posting.amount, requestID: requestID,
                nodeID: nodeID, model: model, createdAt: time, memo: memo)
            try await insert(entry, into: "ledger_entry", on: connection)
            balances.add(posting.amount, to: posting.account)
        }
        return true
    }

    /// A request's postings, in the transaction of its usage row (see ``SQLiteStore``'s).
    static func postUsage(_ record: UsageRecord, policy: LedgerPolicy, balances: inout Balances, on connection: PostgresConnection) async throws {
        guard record.cost > 0, let consumer = record.accountID, let nodeID = record.nodeID,
            let owner = try await fetchColumn(String.self, "SELECT account_id FROM node WHERE id = \(nodeID)", on: connection).first
        else { return }
        let fee = record.cost * Int64(policy.feeBasisPoints) / 10_000
        try await post(
            record.requestID, [(consumer, .charge, -record.cost), (owner, .earning, record.cost - fee), (platformLedger, .fee, fee)],
            requestID: record.requestID, nodeID: nodeID, model: record.model, at: record.time, balances: &balances, on: connection)
    }

    /// The balance changes of one database transaction, written at its end in the order of the
    /// ledger accounts' names: every writer locks the `ledger_balance` rows in one order, so
    /// replicas posting at once wait for each other instead of deadlocking.
    struct Balances {
        private var deltas: [String: Int64] = [:]

        mutating func add(_ amount: Int64, to account: String) { deltas[account, default: 0] += amount }

        func apply(on connection: PostgresConnection) async throws {
            for (account, amount) in deltas.sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes($1.key.utf8) }) where amount != 0 {
                try await connection.changes("""
                    INSERT INTO ledger_balance (ledger_account, amount) VALUES (\(account), \(amount))
                    ON CONFLICT (ledger_account) DO UPDATE SET amount = ledger_balance.amount + excluded.amount
                    """)
            }
        }
    }

    public func balance(_ ledgerAccount: String) async throws -> Money {
        let amount = try await bounded { connection in
            try await Self.fetchColumn(Int64.self, "SELECT amount FROM ledger_balance WHERE ledger_account = \(ledgerAccount)", on: connection).first
        }
        return Money(micros: amount ?? 0)
    }

    public func grantCredit(accountID: String, amount: Money, memo: String?, now: Date) async throws -> String {
        let txn = Self.newID("credit")
        try await transaction { connection in
            guard try await Self.accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
            var balances = Balances()
            try await Self.post(
                txn, [(accountID, .credit, amount.micros), (Self.externalLedger, .credit, -amount.micros)], memo: memo, at: now, balances: &balances,
                on: connection)
            try await balances.apply(on: connection)
        }
        return txn
    }

    public func ledgerEntries(account: String?, from: Date?, to: Date?, limit: Int) async throws -> [LedgerEntry] {
        try await fetchAll(LedgerEntry.self, """
            SELECT * FROM ledger_entry
            WHERE (\(account)::text IS NULL OR ledger_account = \(account))
              AND (\(from)::timestamptz IS NULL OR created_at >= \(from)) AND (\(to)::timestamptz IS NULL OR created_at < \(to))
            ORDER BY id DESC LIMIT \(limit)
            """)
    }

    public func ledgerTotal() async throws -> Int64 {
        return try await bounded { connection in
            try await Self.fetchColumn(Int64.self, "SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entry", on: connection).first ?? 0
        }
    }

    public func dailyEarnings(accountID: String, since: Date) async throws -> [(day: String, node: String, model: String, amount: Money)] {
        struct Earning: Decodable, Sendable {
            var day: String
            var node: String
            var model: String
            var amount: Int64
        }
        return try await fetchAll(Earning.self, """
            SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, coalesce(node_id, '') AS node, coalesce(model, '') AS model,
                   sum(amount)::bigint AS amount
            FROM ledger_entry WHERE ledger_account = \(accountID) AND kind = 'earning' AND created_at >= \(since)
            GROUP BY 1, 2, 3 ORDER BY 1 DESC, coalesce(node_id, '') COLLATE "C", coalesce(model, '') COLLATE "C"
            """
        ).map { ($0.day, $0.node, $0.model, Money(micros: $0.amount)) }
    }

    // MARK: Payouts

    public func setPayoutAccount(accountID: String, holder: String, iban: String, bic: String, now: Date) async throws -> PayoutAccount {
        let record = PayoutAccount(accountID: accountID, holder: holder, iban: iban, bic: bic, updatedAt: now)
        try await transaction { connection in
            guard try await Self.accountExists(accountID, on: connection) else { throw StoreError.notFound("account \(accountID)") }
            try await connection.changes("""
                INSERT INTO payout_account (account_id, holder, iban, bic, updated_at) VALUES (\(accountID), \(holder), \(iban), \(bic), \(now))
                ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, iban = excluded.iban, bic = excluded.bic,
                    updated_at = excluded.updated_at
                """)
        }
        return record
    }

    public func payoutAccount(accountID: String) async throws -> PayoutAccount? {
        try await fetchOne(PayoutAccount.self, "SELECT * FROM payout_account WHERE account_id = \(accountID)")
    }

    public func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool, reserved: [String: Money],
        now: Date
    ) async throws -> (run: PayoutRun, payouts: [Payout], created: Bool) {
        let range = try PayoutPeriod.payable(period, allowOpen: allowOpenPeriod, now: now)
        let (name, iban, bic) = debtor
        // A run over many accounts may take longer than one request's deadline.
        return try await transaction(timeout: .seconds(300)) { connection in
            // One run at a time: a second run of the period waits, then finds the first.
            try await connection.changes("SELECT pg_advisory_xact_lock(7041983)")
            if let run = try await Self.fetchOne(PayoutRun.self, "SELECT * FROM payout_run WHERE period = \(period)", on: connection) {
                return (run, try await Self.fetchAll(Payout.self, "SELECT * FROM payout WHERE period = \(period) ORDER BY account_id COLLATE \"C\"", on: connection), false)
            }
            let run = PayoutRun(period: period, createdAt: now, minimum: minimum.micros, debtorName: name, debtorIBAN: iban, debtorBIC: bic)
            try await Self.insert(run, into: "payout_run", on: connection)
            var payouts: [Payout] = []
            var balances = Balances()
            for target in try await Self.fetchAll(PayoutAccount.self, "SELECT * FROM payout_account ORDER BY account_id COLLATE \"C\"", on: connection) {
                let owed = try await Self.fetchColumn(Int64.self, """
                    SELECT coalesce(sum(amount), 0)::bigint FROM ledger_entry WHERE ledger_account = \(target.accountID)
                    AND ((kind = 'earning' AND created_at < \(range.end)) OR kind IN ('payout', 'payout_failed'))
                    """, on: connection).first ?? 0
                // Locked (accounts in name order, as every writer locks them): a charge committing
                // meanwhile cannot make the payout exceed the balance.
                let balance = try await Self.fetchColumn(
                    Int64.self, "SELECT amount FROM ledger_balance WHERE ledger_account = \(target.accountID) FOR UPDATE", on: connection).first ?? 0
                let available = balance - (reserved[target.accountID]?.micros ?? 0)
                let earned = min(owed, available) / 10_000 * 10_000  // whole cents; the rest stays on the account
                guard earned >= 10_000, earned >= minimum.micros else { continue }
                let payout = Payout(
                    id: Self.newID("payout"), period: period, accountID: target.accountID, amount: earned, holder: target.holder, iban: target.iban,
                    bic: target.bic, status: .pending, createdAt: now, settledAt: nil)
                try await Self.insert(payout, into: "payout", on: connection)
                try await Self.post(
                    payout.id, [(target.accountID, .payout, -earned), (Self.payableLedger(target.accountID), .payout, earned)],
                    memo: "payout \(period)", at: now, balances: &balances, on: connection)
                payouts.append(payout)
            }
            try await balances.apply(on: connection)
            return (run, payouts, true)
        }
    }

    public func payouts(period: String?, accountID: String?) async throws -> [Payout] {
        try await fetchAll(Payout.self, """
            SELECT * FROM payout WHERE (\(period)::text IS NULL OR period = \(period)) AND (\(accountID)::text IS NULL OR account_id = \(accountID))
            ORDER BY period DESC, account_id COLLATE "C"
            """)
    }

    public func payoutRun(period: String) async throws -> PayoutRun? {
        try await fetchOne(PayoutRun.self, "SELECT * FROM payout_run WHERE period = \(period)")
    }

    public func settlePayout(id: String, paid: Bool, now: Date) async throws -> Payout? {
        let status = paid ? Payout.Status.paid.rawValue : Payout.Status.failed.rawValue
        return try await transaction { connection in
            guard let payout = try await Self.fetchOne(Payout.self, """
                UPDATE payout SET status = \(status), settled_at = \(now) WHERE id = \(id) AND status = 'pending' RETURNING *
                """, on: connection)
            else { return nil }
            let payable = Self.payableLedger(payout.accountID)
            let postings: [(account: String, kind: LedgerEntry.Kind, amount: Int64)] =
                paid
                ? [(payable, .payoutPaid, -payout.amount), (Self.externalLedger, .payoutPaid, payout.amount)]
                : [(payable, .payoutFailed, -payout.amount), (payout.accountID, .payoutFailed, payout.amount)]
            var balances = Balances()
            try await Self.post(
                payout.id + (paid ? ":paid" : ":failed"), postings, memo: "payout \(payout.period)", at: now, balances: &balances, on: connection)
            try await balances.apply(on: connection)
            return payout
        }
    }
}
