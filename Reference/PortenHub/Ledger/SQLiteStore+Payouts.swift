import Foundation
import GRDB

extension SQLiteStore {
    public func setPayoutAccount(accountID: String, holder: String, iban: String, bic: String, now: Date) async throws -> PayoutAccount {
        let record = PayoutAccount(accountID: accountID, holder: holder, iban: iban, bic: bic, updatedAt: now)
        try await writer.write { db in
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            try record.upsert(db)
        }
        return record
    }

    public func payoutAccount(accountID: String) async throws -> PayoutAccount? {
        try await writer.read { db in try PayoutAccount.fetchOne(db, key: accountID) }
    }

    /// Runs the payouts of `period`. Each account with a payout account is owed its earnings up to
    /// the period's end less what was paid out before (a failed payout's amount is owed again, an
    /// amount below the minimum waits for a later run), but never more than its balance (earnings
    /// spent on inference are not paid twice) less what its running requests have `reserved`, in
    /// whole cents; when that reaches `minimum` (and a cent) it gets one payout, moved to
    /// `payable:` in the ledger. A period is paid once: a second run returns the first run's
    /// payouts and changes nothing.
    public func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool, reserved: [String: Money],
        now: Date
    ) async throws -> (run: PayoutRun, payouts: [Payout], created: Bool) {
        let range = try PayoutPeriod.payable(period, allowOpen: allowOpenPeriod, now: now)
        return try await writer.write { db in
            if let run = try PayoutRun.fetchOne(db, key: period) {
                return (run, try Payout.filter(Column("period") == period).order(Column("account_id")).fetchAll(db), false)
            }
            let run = PayoutRun(
                period: period, createdAt: now, minimum: minimum.micros, debtorName: debtor.name, debtorIBAN: debtor.iban, debtorBIC: debtor.bic)
            try run.insert(db)
            var payouts: [Payout] = []
            for target in try PayoutAccount.order(Column("account_id")).fetchAll(db) {
                let owed = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT coalesce(sum(amount), 0) FROM ledger_entry WHERE ledger_account = ?
                        AND ((kind = 'earning' AND created_at < ?) OR kind IN ('payout', 'payout_failed'))
                        """,
                    arguments: [target.accountID, range.end]) ?? 0
                let balance = try Int64.fetchOne(db, sql: "SELECT amount FROM ledger_balance WHERE ledger_account = ?", arguments: [target.accountID]) ?? 0
                let available = balance - (reserved[target.accountID]?.micros ?? 0)
                let earned = min(owed, available) / 10_000 * 10_000  // whole cents; the rest stays on the account
                guard earned >= 10_000, earned >= minimum.micros else { continue }
                let payout = Payout(
                    id: Self.newID("payout"), period: period, accountID: target.accountID, amount: earned, holder: target.holder, iban: target.iban,
                    bic: target.bic, status: .pending, createdAt: now, settledAt: nil)
                try payout.insert(db)
                try Self.post(
                    db, txn: payout.id, [(target.accountID, .payout, -earned), (Self.payableLedger(target.accountID), .payout, earned)],
                    memo: "payout \(period)", at: now)
                payouts.append(payout)
            }
            return (run, payouts, true)
        }
    }

    public func payouts(period: String?, accountID: String?) async throws -> [Payout] {
        try await writer.read { db in
            var request = Payout.order(Column("period").desc, Column("account_id"))
            if let period { request = request.filter(Column("period") == period) }
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.fetchAll(db)
        }
    }

    public func payoutRun(period: String) async throws -> PayoutRun? {
        try await writer.read { db in try PayoutRun.fetchOne(db, key: period) }
    }

    /// Marks a pending payout paid (payable → external) or failed (payable → back to the account).
    /// - Returns: nil when there is no pending payout `id`.
    public func settlePayout(id: String, paid: Bool, now: Date) async throws -> Payout? {
        try await writer.write { db in
            guard var payout = try Payout.fetchOne(db, key: id), payout.status == .pending else { return nil }
            payout.status = paid ? .paid : .failed
            payout.settledAt = now
            try payout.update(db)
            let payable = Self.payableLedger(payout.accountID)
            let postings: [(account: String, kind: LedgerEntry.Kind, amount: Int64)] =
                paid
                ? [(payable, .payoutPaid, -payout.amount), (Self.externalLedger, .payoutPaid, payout.amount)]
                : [(payable, .payoutFailed, -payout.amount), (payout.accountID, .payoutFailed, payout.amount)]
            try Self.post(db, txn: payout.id + (paid ? ":paid" : ":failed"), postings, memo: "payout \(payout.period)", at: now)
            return payout
        }
    }
}
