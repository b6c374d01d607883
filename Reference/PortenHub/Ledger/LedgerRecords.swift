import Foundation
import GRDB

/// One posting of the double-entry ledger. Every transaction's postings sum to zero.
///
/// Ledger accounts: a customer account's id (its balance: credit granted and earnings, less
/// charges and payouts), `platform` (the operator's fees), `external` (money entering as credit
/// or leaving as paid payouts) and `payable:<account id>` (payouts on their way to a bank).
public struct LedgerEntry: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "ledger_entry"
    public var id: Int64?
    /// Postings of one transaction share it: `req_…` for a request, `credit_…`, `payout_…`.
    public var txn: String
    public var ledgerAccount: String
    public var kind: Kind
    /// Micro-units; positive adds to the ledger account, negative takes from it.
    public var amount: Int64
    public var requestID: String?
    public var nodeID: String?
    public var model: String?
    public var createdAt: Date
    public var memo: String?

    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A request: the consumer is charged, the node's owner earns, the platform takes its fee.
        case charge, earning, fee
        /// Credit an operator granted (`external` → account).
        case credit
        /// A payout run moved earnings to `payable:…`; the bank paid it (`payable` → `external`)
        /// or it failed (`payable` → back to the account).
        case payout, payoutPaid = "payout_paid", payoutFailed = "payout_failed"
    }

    enum CodingKeys: String, CodingKey {
        case id, txn, kind, amount, model, memo
        case ledgerAccount = "ledger_account", requestID = "request_id", nodeID = "node_id", createdAt = "created_at"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// Where an account's earnings are paid: holder, IBAN (checked by its mod-97 checksum) and BIC.
public struct PayoutAccount: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "payout_account"
    public var accountID: String
    public var holder: String
    public var iban: String
    public var bic: String
    public var updatedAt: Date

    enum CodingKeys: String, CodingKey { case holder, iban, bic, accountID = "account_id", updatedAt = "updated_at" }
}

/// A payout run for one period (`2026-11`) and who pays (the debtor of the SEPA file).
public struct PayoutRun: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "payout_run"
    public var period: String
    public var createdAt: Date
    public var minimum: Int64
    public var debtorName: String
    public var debtorIBAN: String
    public var debtorBIC: String

    enum CodingKeys: String, CodingKey {
        case period, minimum
        case createdAt = "created_at", debtorName = "debtor_name", debtorIBAN = "debtor_iban", debtorBIC = "debtor_bic"
    }
}

/// One account's payout of one period, with the bank details as they were at the run.
public struct Payout: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "payout"
    public var id: String
    public var period: String
    public var accountID: String
    public var amount: Int64
    public var holder: String
    public var iban: String
    public var bic: String
    public var status: Status
    public var createdAt: Date
    public var settledAt: Date?

    public enum Status: String, Codable, Sendable { case pending, paid, failed }

    enum CodingKeys: String, CodingKey {
        case id, period, amount, holder, iban, bic, status
        case accountID = "account_id", createdAt = "created_at", settledAt = "settled_at"
    }
}
