import Foundation
import Hummingbird
import OpenAIWire

/// `/admin/v1`: credit, the ledger, statements, payout accounts and payout runs.
extension AdminController {
    func addLedgerRoutes(to group: RouterGroup<HubRequestContext>) {
        group.post("credits", use: grantCredit)
        group.get("ledger", use: listLedger)
        group.get("statement", use: statement)
        group.put("payout-accounts/:account", use: setPayoutAccount)
        group.post("payouts/run", use: runPayouts)
        group.get("payouts", use: listPayouts)
        group.get("payouts/sepa", use: sepaFile)
        group.get("payouts/csv", use: payoutsCSV)
        group.post("payouts/:id", use: settlePayout)
    }

    /// `{"account_id", "amount": "10.50", "memo"}`: the amount as a decimal string (or a whole
    /// number), never a float.
    func grantCredit(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let accountID = try fields.requiredString("account_id")
        let amount = try Self.amount(fields, "amount")
        guard amount > .zero, amount <= Self.largestCredit else {
            throw APIError.invalidRequest("'amount' must be positive and at most \(Self.largestCredit.decimal(places: 0)).", param: "amount")
        }
        guard (try await services.store.balance(accountID)).micros <= Self.largestBalance.micros - amount.micros else {
            throw APIError.invalidRequest("The account's balance would exceed \(Self.largestBalance.decimal(places: 0)).", param: "amount")
        }
        do {
            let txn = try await services.store.grantCredit(accountID: accountID, amount: amount, memo: try fields.string("memo"))
            return JSONResponse.make(
                ["txn": JSONValue.string(txn), "account_id": .string(accountID),
                 "balance": .string(try await services.store.balance(accountID).decimal()), "currency": .string(services.configuration.currency)],
                status: .created)
        } catch StoreError.notFound {
            throw notFound("account", accountID, param: "account_id")
        }
    }

    /// Bounds that keep every sum of the ledger far from Int64's limits.
    static let largestCredit = Money(micros: 1_000_000_000 * 1_000_000)
    static let largestBalance = Money(micros: 1_000_000_000_000 * 1_000_000)

    func listLedger(_ request: Request, context: HubRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = min(max(Int(query["limit"].map(String.init) ?? "") ?? 1000, 1), 100_000)
        let entries = try await services.store.ledgerEntries(account: query["account"].map(String.init), from: nil, to: nil, limit: limit)
        return try Self.entries(entries, csv: query["format"] == "csv", extra: ["total": .string(Money(micros: try await services.store.ledgerTotal()).decimal())],
            currency: services.configuration.currency)
    }

    /// An account's postings in a period (`?account_id=…&period=2026-11`), with the balance before and after.
    func statement(_ request: Request, context: HubRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let account = query["account_id"].map(String.init), !account.isEmpty else {
            throw APIError.invalidRequest("Pass ?account_id=acct_….", param: "account_id", code: "missing_required_parameter")
        }
        guard let text = query["period"].map(String.init), let range = PayoutPeriod.range(text) else {
            throw APIError.invalidRequest("Pass ?period=YYYY-MM.", param: "period", code: "missing_required_parameter")
        }
        guard try await services.store.account(id: account) != nil else { throw notFound("account", account, param: "account_id") }
        let entries = try await services.store.ledgerEntries(account: account, from: range.start, to: range.end, limit: 1_000_000)
        let after = try await services.store.ledgerEntries(account: account, from: range.end, to: nil, limit: 1_000_000).reduce(0) { $0 + $1.amount }
        let closing = try await services.store.balance(account).micros - after
        let opening = closing - entries.reduce(0) { $0 + $1.amount }
        return try Self.entries(
            entries.reversed(), csv: query["format"] == "csv",
            extra: ["account_id": .string(account), "period": .string(text), "opening_balance": .string(Money(micros: opening).decimal()),
                    "closing_balance": .string(Money(micros: closing).decimal())],
            currency: services.configuration.currency)
    }

    func setPayoutAccount(_ request: Request, context: HubRequestContext) async throws -> Response {
        let accountID = try context.parameters.require("account")
        let fields = try await body(request)
        let (holder, iban, bic) = try Self.bankDetails(
            holder: try fields.requiredString("holder"), iban: try fields.requiredString("iban"), bic: try fields.requiredString("bic"))
        do {
            let saved = try await services.store.setPayoutAccount(accountID: accountID, holder: holder, iban: iban, bic: bic)
            return JSONResponse.make(["account_id": JSONValue.string(saved.accountID), "holder": .string(holder), "iban": .string(iban), "bic": .string(bic)])
        } catch StoreError.notFound {
            throw notFound("account", accountID)
        }
    }

    /// Checked bank details: a holder name, an IBAN with a valid checksum, a BIC.
    static func bankDetails(holder: String, iban: String, bic: String) throws(APIError) -> (String, String, String) {
        let holder = try checkedName(holder, param: "holder")
        guard holder.count <= 70 else { throw .invalidRequest("Invalid 'holder': at most 70 characters, as SEPA files carry.", param: "holder") }
        guard let iban = BankDetails.iban(iban) else {
            throw .invalidRequest("Invalid 'iban': check the number; its checksum does not match.", param: "iban")
        }
        guard let bic = BankDetails.bic(bic) else { throw .invalidRequest("Invalid 'bic': 8 or 11 characters such as DEUTDEFF.", param: "bic") }
        return (holder, iban, bic)
    }

    /// `{"period": "2026-11", "minimum": "10", "debtor_name", "debtor_iban", "debtor_bic", "allow_open_period"}`.
    func runPayouts(_ request: Request, context: HubRequestContext) async throws -> Response {
        let fields = try await body(request)
        let period = try fields.requiredString("period")
        let minimum = try fields.members["minimum"] == nil ? Money.zero : Self.amount(fields, "minimum")
        let (name, iban, bic) = try Self.bankDetails(
            holder: try fields.requiredString("debtor_name"), iban: try fields.requiredString("debtor_iban"), bic: try fields.requiredString("debtor_bic"))
        do {
            // What running requests have reserved (--require-credit) stays on their accounts; a
            // request whose balance read began before the payout counts what it took.
            let reservations = services.creditReservations
            let (run, payouts, created) = try await services.store.runPayouts(
                period: period, minimum: minimum, debtor: (name, iban, bic), allowOpenPeriod: try fields.bool("allow_open_period") ?? false,
                reserved: reservations.running(), now: Date())
            if created {
                for payout in payouts { reservations.debited(account: payout.accountID, amount: Money(micros: payout.amount)) }
            }
            return JSONResponse.make(
                PayoutRunView(period: run.period, created: created, payouts: payouts.map(PayoutView.init), currency: services.configuration.currency),
                status: created ? .created : .ok)
        } catch PayoutRunError.invalidPeriod {
            throw APIError.invalidRequest("Invalid 'period': use YYYY-MM, such as 2026-11.", param: "period")
        } catch PayoutRunError.periodNotStarted {
            throw APIError.invalidRequest("The period \(period) has not begun.", param: "period", code: "period_open")
        } catch PayoutRunError.periodNotEnded {
            throw APIError.invalidRequest(
                "The period \(period) has not ended; run it afterwards (or pass allow_open_period: later earnings of the period would then never be paid).",
                param: "period", code: "period_open")
        }
    }

    func listPayouts(_ request: Request, context: HubRequestContext) async throws -> Response {
        let payouts = try await services.store.payouts(period: request.uri.queryParameters["period"].map(String.init), accountID: nil)
        return JSONResponse.make(AdminViews.List(data: payouts.map(PayoutView.init)))
    }

    func sepaFile(_ request: Request, context: HubRequestContext) async throws -> Response {
        let (run, payouts) = try await runOf(request)
        return Self.text(SEPACreditTransfer.xml(run: run, payouts: payouts, currency: services.configuration.currency), type: "application/xml")
    }

    func payoutsCSV(_ request: Request, context: HubRequestContext) async throws -> Response {
        let (_, payouts) = try await runOf(request)
        return Self.text(SEPACreditTransfer.csv(payouts: payouts, currency: services.configuration.currency), type: "text/csv; charset=utf-8")
    }

    /// `{"status": "paid" | "failed"}` for a pending payout.
    func settlePayout(_ request: Request, context: HubRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let status = try (try await body(request)).oneOf("status", ["paid", "failed"])
        guard let status else { throw APIError.invalidRequest("Pass 'status': 'paid' or 'failed'.", param: "status") }
        guard let payout = try await services.store.settlePayout(id: id, paid: status == "paid") else { throw notFound("pending payout", id) }
        return JSONResponse.make(PayoutView(payout))
    }

    private func runOf(_ request: Request) async throws -> (PayoutRun, [Payout]) {
        let period = request.uri.queryParameters["period"].map(String.init) ?? ""
        guard let run = try await services.store.payoutRun(period: period) else { throw notFound("payout run for period", period, param: "period") }
        let payouts = try await services.store.payouts(period: period, accountID: nil).filter { $0.status != .failed }
        guard !payouts.isEmpty else {
            throw APIError(status: 404, message: "The run of \(period) pays nobody.", type: "invalid_request_error", code: "not_found")
        }
        return (run, payouts)
    }

    /// A decimal amount field: `"10.50"` or `10`; floats are refused (they cannot hold cents exactly).
    static func amount(_ fields: RequestFields, _ key: String) throws(APIError) -> Money {
        let parsed: Money?
        switch fields.value(key) {
        case .string(let text)?: parsed = Money(decimal: text)
        case .int(let whole)?: parsed = Money(decimal: String(whole))
        case nil: throw fields.missing(key)
        default: parsed = nil
        }
        guard let parsed else {
            throw .invalidRequest("Invalid '\(key)': a decimal amount as a string, such as \"10.50\" (at most 6 decimals).", param: key)
        }
        return parsed
    }

    static func entries(_ entries: [LedgerEntry], csv: Bool, extra: [String: JSONValue], currency: String) throws -> Response {
        if csv {
            var lines = ["id,txn,created_at,ledger_account,kind,amount,currency,request_id,node_id,model,memo"]
            for entry in entries {
                lines.append(
                    [String(entry.id ?? 0), entry.txn, SEPACreditTransfer.timestamp(entry.createdAt) + "Z", entry.ledgerAccount, entry.kind.rawValue,
                     Money(micros: entry.amount).decimal(), currency, entry.requestID ?? "", entry.nodeID ?? "", entry.model ?? "", entry.memo ?? ""]
                        .map(CSV.field).joined(separator: ","))
            }
            return text(lines.joined(separator: "\n") + "\n", type: "text/csv; charset=utf-8")
        }
        var body = extra
        body["currency"] = .string(currency)
        body["data"] = .array(
            entries.map { entry in
                .object([
                    "id": .int(Int(entry.id ?? 0)), "txn": .string(entry.txn), "created_at": .string(SEPACreditTransfer.timestamp(entry.createdAt) + "Z"),
                    "ledger_account": .string(entry.ledgerAccount), "kind": .string(entry.kind.rawValue),
                    "amount": .string(Money(micros: entry.amount).decimal()), "request_id": entry.requestID.map(JSONValue.string) ?? .null,
                    "node_id": entry.nodeID.map(JSONValue.string) ?? .null, "model": entry.model.map(JSONValue.string) ?? .null,
                    "memo": entry.memo.map(JSONValue.string) ?? .null,
                ])
            })
        return JSONResponse.make(JSONValue.object(body))
    }

    static func text(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    struct PayoutView: Encodable {
        var id, period, accountID, holder, iban, bic, status, amount: String

        init(_ payout: Payout) {
            id = payout.id
            period = payout.period
            accountID = payout.accountID
            holder = payout.holder
            iban = payout.iban
            bic = payout.bic
            status = payout.status.rawValue
            amount = Money(micros: payout.amount).decimal(places: 2)
        }

        enum CodingKeys: String, CodingKey { case id, period, holder, iban, bic, status, amount, accountID = "account_id" }
    }

    struct PayoutRunView: Encodable {
        var period: String
        var created: Bool
        var payouts: [PayoutView]
        var currency: String
    }
}
