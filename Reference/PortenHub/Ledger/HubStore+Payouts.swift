import Foundation
import GRDB

extension HubStore {
    public func setPayoutAccount(accountID: String, holder: String, iban: String, bic: String, now: Date = Date()) throws -> PayoutAccount {
        let record = PayoutAccount(accountID: accountID, holder: holder, iban: iban, bic: bic, updatedAt: now)
        try writer.write { db in
            guard try Account.fetchOne(db, key: accountID) != nil else { throw StoreError.notFound("account \(accountID)") }
            try record.upsert(db)
        }
        return record
    }

    public func payoutAccount(accountID: String) throws -> PayoutAccount? {
        try writer.read { db in try PayoutAccount.fetchOne(db, key: accountID) }
    }

    /// `2026-11` → [2026-11-01, 2026-12-01) in UTC; nil for anything else (exactly four digits,
    /// a dash, two digits: `2026-+8` or `02026-8` would name the same month twice).
    public static func period(_ text: String) -> (start: Date, end: Date)? {
        let characters = Array(text)
        guard characters.count == 7, characters[4] == "-", characters.enumerated().allSatisfy({ $0.offset == 4 || $0.element.isASCIIDigit }),
            let year = Int(String(characters[0..<4])), let month = Int(String(characters[5..<7])), (2000...2999).contains(year),
            (1...12).contains(month)
        else { return nil }
        let calendar = UTC.calendar
        guard let start = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let end = calendar.date(byAdding: .month, value: 1, to: start)
        else { return nil }
        return (start, end)
    }

    public enum PayoutRunError: Error, Equatable {
        case invalidPeriod, periodNotEnded, periodNotStarted
    }

    /// Runs the payouts of `period`. Each account with a payout account is owed its earnings up to
    /// the period's end less what was paid out before (a failed payout's amount is owed again, an
    /// amount below the minimum waits for a later run), but never more than its balance (earnings
    /// spent on inference are not paid twice), in whole cents; when that reaches `minimum` (and a
    /// cent) it gets one payout, moved to `payable:` in the ledger. A period is paid once: a
    /// second run returns the first run's payouts and changes nothing.
    public func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool = false, now: Date = Date()
    ) throws -> (run: PayoutRun, payouts: [Payout], created: Bool) {
        guard let range = Self.period(period) else { throw PayoutRunError.invalidPeriod }
        guard range.start <= now else { throw PayoutRunError.periodNotStarted }
        guard allowOpenPeriod || range.end <= now else { throw PayoutRunError.periodNotEnded }
        return try writer.write { db in
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
                let earned = min(owed, balance) / 10_000 * 10_000  // whole cents; the rest stays on the account
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

    public func payouts(period: String? = nil, accountID: String? = nil) throws -> [Payout] {
        try writer.read { db in
            var request = Payout.order(Column("period").desc, Column("account_id"))
            if let period { request = request.filter(Column("period") == period) }
            if let accountID { request = request.filter(Column("account_id") == accountID) }
            return try request.fetchAll(db)
        }
    }

    public func payoutRun(period: String) throws -> PayoutRun? {
        try writer.read { db in try PayoutRun.fetchOne(db, key: period) }
    }

    /// Marks a pending payout paid (payable → external) or failed (payable → back to the account).
    /// - Returns: nil when there is no pending payout `id`.
    public func settlePayout(id: String, paid: Bool, now: Date = Date()) throws -> Payout? {
        try writer.write { db in
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
