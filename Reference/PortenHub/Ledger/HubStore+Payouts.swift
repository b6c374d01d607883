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

    /// `2026-11` → [2026-11-01, 2026-12-01) in UTC; nil for anything else.
    public static func period(_ text: String) -> (start: Date, end: Date)? {
        let parts = text.split(separator: "-")
        guard text.count == 7, parts.count == 2, let year = Int(parts[0]), let month = Int(parts[1]), (2000...2999).contains(year),
            (1...12).contains(month)
        else { return nil }
        let calendar = UTC.calendar
        guard let start = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
            let end = calendar.date(byAdding: .month, value: 1, to: start)
        else { return nil }
        return (start, end)
    }

    public enum PayoutRunError: Error, Equatable {
        case invalidPeriod, periodNotEnded
    }

    /// Runs the payouts of `period`: every account with a payout account whose earnings in the
    /// period reach `minimum` gets one payout, its earnings moved to `payable:` in the ledger.
    /// A period is paid once: a second run returns the first run's payouts and changes nothing.
    public func runPayouts(
        period: String, minimum: Money, debtor: (name: String, iban: String, bic: String), allowOpenPeriod: Bool = false, now: Date = Date()
    ) throws -> (run: PayoutRun, payouts: [Payout], created: Bool) {
        guard let range = Self.period(period) else { throw PayoutRunError.invalidPeriod }
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
                let earned =
                    try Int64.fetchOne(
                        db,
                        sql: "SELECT coalesce(sum(amount), 0) FROM ledger_entry WHERE ledger_account = ? AND kind = 'earning' AND created_at >= ? AND created_at < ?",
                        arguments: [target.accountID, range.start, range.end]) ?? 0
                guard earned > 0, earned >= minimum.micros else { continue }
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
