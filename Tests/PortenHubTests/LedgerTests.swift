import Foundation
import PropertyBased
import Testing

@testable import PortenHub

struct MoneyTests {
    @Test func decimalsParseExactlyAndRoundTrip() {
        #expect(Money(decimal: "10")?.micros == 10_000_000)
        #expect(Money(decimal: "0.000001")?.micros == 1)
        #expect(Money(decimal: "-2.5")?.micros == -2_500_000)
        for bad in ["", "1.", ".5", "1.0000001", "1e3", "0x10", "1,5", " 1", "--1", "1234567890123"] { #expect(Money(decimal: bad) == nil, "\(bad)") }
        #expect(Money(micros: 12_345_678).decimal() == "12.345678")
        #expect(Money(micros: 12_345_678).decimal(places: 2) == "12.35")
        #expect(Money(micros: -5_000).decimal(places: 2) == "-0.01")
        #expect(Money(micros: -4_000).decimal(places: 2) == "0.00")
        #expect(Money(micros: 7).decimal(places: 0) == "0")
    }

    @Test func priceTimesTokensRoundsHalfUpToTheMicroUnit() {
        let price = Price(inputMicrosPerMillion: 150_000, outputMicrosPerMillion: 600_000)  // 0.15 / 0.60 per million
        #expect(price.cost(prompt: 1_000_000, completion: 0).micros == 150_000)
        #expect(price.cost(prompt: 1, completion: 1).micros == 1)  // 0.75 micros → 1
        #expect(price.cost(prompt: 3, completion: 0).micros == 0)  // 0.45 micros → 0
        #expect(Price(inputMicrosPerMillion: .max, outputMicrosPerMillion: .max).cost(prompt: .max, completion: .max).micros > 0)
        #expect(Price(CatalogModel(id: "m", type: .chat, ctx: 1, priceInput: 0.15, priceOutput: 0.6)) == price)
    }

    @Test func ibansAndBicsAreChecked() {
        #expect(BankDetails.iban("DE89 3704 0044 0532 0130 00") == "DE89370400440532013000")
        #expect(BankDetails.iban("de89370400440532013000") == "DE89370400440532013000")
        #expect(BankDetails.iban("DE89370400440532013001") == nil)
        #expect(BankDetails.iban("GB82WEST12345698765432") != nil)
        #expect(BankDetails.iban("XX00") == nil)
        #expect(BankDetails.bic("DEUTDEFF") == "DEUTDEFF" && BankDetails.bic("deutdeff500") == "DEUTDEFF500")
        for bad in ["DEUT", "DEUTDE1F", "DEUTDEFO", "DEUTDEFF5", "DEU1DEFF"] { #expect(BankDetails.bic(bad) == nil, "\(bad)") }
    }
}

struct PayoutOwedTests {
    let debtor = (name: "Porten", iban: "GB82WEST12345698765432", bic: "NWBKGB2L")

    /// An owner who earned 10.005 (in three months) and spent 4 of it on inference.
    func setUp(_ store: any HubStore) async throws -> (String, Date) {
        let owner = try await store.createAccount(name: "owner").id
        let node = try await store.createNode(accountID: owner, name: "n", region: "eu", trustClass: "verified").node.id
        let start = PayoutPeriod.range("2026-09")!.start
        let price = Price(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 0)
        func row(_ id: String, _ account: String, _ tokens: Int, at time: Date) -> UsageRecord {
            UsageRecord(
                time: time, requestID: id, keyID: "k", accountID: account, nodeID: node, region: "eu", model: "m", endpoint: "chat.completions",
                promptTokens: tokens, completionTokens: 0, status: 200, latencyMS: 1, timeToFirstTokenMS: nil, price: price)
        }
        let consumer = try await store.createAccount(name: "consumer").id
        try await store.insertUsage([row("r1", consumer, 5_000_000, at: start), row("r2", consumer, 5_005_000, at: start + 40 * 86_400)])
        // The owner uses its own node: a charge of 4 and an earning of 4 on one account.
        try await store.insertUsage([row("r3", owner, 4_000_000, at: start + 41 * 86_400)])
        return (owner, start)
    }

    @Test(arguments: StoreEngine.allCases) func payoutsPayWholeCentsOfWhatIsOwedAndNeverMoreThanTheBalance(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in try await payouts(store) }
    }

    @Test(arguments: StoreEngine.allCases) func whatRunningRequestsReservedIsNotPaidOut(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let (owner, start) = try await setUp(store)
            _ = try await store.setPayoutAccount(accountID: owner, holder: "Owner", iban: "DE89370400440532013000", bic: "DEUTDEFF")
            // Owed 5.00 for September, balance 10.005, of which running requests reserved 6.00.
            let run = try await store.runPayouts(
                period: "2026-09", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [owner: Money(micros: 6_000_000)],
                now: start + 100 * 86_400)
            #expect(run.payouts.map(\.amount) == [4_000_000])
            #expect(try await store.balance(owner).micros == 6_005_000)
        }
    }

    func payouts(_ store: any HubStore) async throws {
        let (owner, start) = try await setUp(store)
        _ = try await store.setPayoutAccount(accountID: owner, holder: "Zoë Müller & Söhne", iban: "DE89370400440532013000", bic: "DEUTDEFF")
        let september = try await store.runPayouts(period: "2026-09", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 100 * 86_400)
        #expect(september.payouts.map(\.amount) == [5_000_000])
        // October: earned 5.005 + 4 (own node), spent 4: owed 9.005, balance 5.005 → 5.00, the half cent stays.
        let october = try await store.runPayouts(period: "2026-10", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 100 * 86_400)
        #expect(october.payouts.map(\.amount) == [5_000_000])
        #expect(try await store.balance(owner).micros == 5_000)
        // A failed payout is owed again in the next run.
        _ = try await store.settlePayout(id: october.payouts[0].id, paid: false)
        let november = try await store.runPayouts(period: "2026-11", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 100 * 86_400)
        #expect(november.payouts.map(\.amount) == [5_000_000])
        let xml = SEPACreditTransfer.xml(run: november.run, payouts: november.payouts, currency: "EUR")
        #expect(xml.contains("<Nm>Zoe Muller   Sohne</Nm>") && xml.contains("<CtrlSum>5.00</CtrlSum>"))
        #expect(try await store.ledgerTotal() == 0)
    }
}

struct LedgerPropertyTests {
    /// One request of a random sequence.
    struct Step: CustomStringConvertible {
        var requestID: String
        var consumer: Int
        var node: Int
        var price: Price
        var status: Int
        var prompt: Int
        var completion: Int
        var description: String { "\(requestID) c\(consumer) n\(node) \(price) \(status) \(prompt)+\(completion)" }
    }

    static let sequences = Generator<[Step], Shrink.None<[Step]>> { rng in
        var steps: [Step] = []
        for index in 0..<Int.random(in: 1...40, using: &rng) {
            // Retries reuse an earlier request id; prices change from step to step.
            let retry = !steps.isEmpty && Int.random(in: 0..<5, using: &rng) == 0
            var step = Step(
                requestID: retry ? steps.randomElement(using: &rng)!.requestID : "req_\(index)", consumer: Int.random(in: 0..<3, using: &rng),
                node: Int.random(in: 0..<3, using: &rng),
                price: Price(
                    inputMicrosPerMillion: Int64.random(in: 0...5_000_000, using: &rng), outputMicrosPerMillion: Int64.random(in: 0...20_000_000, using: &rng)),
                status: [200, 200, 200, 502, 499, 503].randomElement(using: &rng)!, prompt: Int.random(in: 0...50_000, using: &rng),
                completion: Int.random(in: 0...50_000, using: &rng))
            // A failure before any token produced nothing; a stream cut mid-way keeps its tokens.
            if step.status == 503 { step.completion = 0 }
            steps.append(step)
        }
        return steps
    }

    /// 200 sequences on SQLite; 25 on Postgres, a database each.
    @Test(arguments: StoreEngine.allCases) func theLedgerBalancesAndChargesExactlyUsageTimesPrice(_ engine: StoreEngine) async throws {
        await propertyCheck(count: engine == .sqlite ? 200 : 25, input: Self.sequences) { steps in
            try await engine.withStore { store in try await Self.check(steps, store) }
        }
    }

    static func expectedCost(_ step: Step) -> Int64 {
        guard step.status == 200 || step.completion > 0 else { return 0 }
        let input = Int64(step.prompt) * step.price.inputMicrosPerMillion
        let output = Int64(step.completion) * step.price.outputMicrosPerMillion
        return (input + output + 500_000) / 1_000_000
    }

    static func check(_ steps: [Step], _ store: any HubStore) async throws {
        var accounts: [String] = []
        var nodes: [String] = []
        for index in 0..<3 {
            let account = try await store.createAccount(name: "a\(index)").id
            accounts.append(account)
            nodes.append(try await store.createNode(accountID: account, name: "n\(index)", region: "eu", trustClass: "verified").node.id)
        }
        let policy = LedgerPolicy(feeBasisPoints: 2000)
        var expected: [String: Int64] = [:]
        var charged = Set<String>()
        for step in steps {
            let row = UsageRecord(
                time: Date(), requestID: step.requestID, keyID: "k", accountID: accounts[step.consumer], nodeID: nodes[step.node], region: "eu",
                model: "m", endpoint: "chat.completions", promptTokens: step.prompt, completionTokens: step.completion, status: step.status,
                latencyMS: 1, timeToFirstTokenMS: nil, price: step.price)
            try await store.insertUsage([row], ledger: policy)
            let cost = expectedCost(step)
            #expect(row.cost == cost, "\(step)")
            guard cost > 0, charged.insert(step.requestID).inserted else { continue }
            let fee = cost * 2000 / 10_000
            expected[accounts[step.consumer], default: 0] -= cost
            expected[accounts[step.node], default: 0] += cost - fee
            expected["platform", default: 0] += fee
        }
        #expect(try await store.ledgerTotal() == 0)
        for (account, amount) in expected {
            #expect(try await store.balance(account).micros == amount, "\(account) after \(steps)")
        }
        // Each transaction balances on its own, and only charged requests have one.
        let byTxn = Dictionary(grouping: try await store.ledgerEntries(account: nil, from: nil, to: nil, limit: 100_000), by: \.txn)
        for (txn, entries) in byTxn {
            #expect(entries.reduce(Int64(0)) { $0 + $1.amount } == 0, "\(txn)")
        }
        #expect(Set(byTxn.keys) == charged)
    }

    @Test(arguments: StoreEngine.allCases) func creditsAndPayoutsMoveMoneyOnceAndBalance(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let consumer = try await store.createAccount(name: "consumer").id
            let owner = try await store.createAccount(name: "owner").id
            let node = try await store.createNode(accountID: owner, name: "n", region: "eu", trustClass: "verified").node.id
            _ = try await store.grantCredit(accountID: consumer, amount: Money(decimal: "50")!, memo: "welcome")
            let start = PayoutPeriod.range("2026-11")!.start
            let price = Price(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 2_000_000)
            try await store.insertUsage(
                (0..<10).map {
                    UsageRecord(
                        time: start + Double($0) * 3600, requestID: "req_\($0)", keyID: "k", accountID: consumer, nodeID: node, region: "eu", model: "m",
                        endpoint: "chat.completions", promptTokens: 1_000_000, completionTokens: 1_000_000, status: 200, latencyMS: 1,
                        timeToFirstTokenMS: nil, price: price)
                }, ledger: LedgerPolicy(feeBasisPoints: 1000))
            #expect(try await store.balance(consumer) == Money(decimal: "20")!)
            #expect(try await store.balance(owner) == Money(decimal: "27")!)
            #expect(try await store.balance("platform") == Money(decimal: "3")!)
            _ = try await store.setPayoutAccount(accountID: owner, holder: "Owner", iban: "DE89370400440532013000", bic: "DEUTDEFF")
            let debtor = (name: "Porten", iban: "GB82WEST12345698765432", bic: "NWBKGB2L")
            await #expect(throws: PayoutRunError.periodNotEnded) {
                try await store.runPayouts(period: "2026-11", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 86_400)
            }
            let first = try await store.runPayouts(period: "2026-11", minimum: Money(decimal: "10")!, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 40 * 86_400)
            #expect(first.created && first.payouts.map(\.amount) == [27_000_000])
            #expect(try await store.balance(owner) == .zero)
            #expect(try await store.balance("payable:" + owner) == Money(decimal: "27")!)
            let second = try await store.runPayouts(period: "2026-11", minimum: .zero, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 41 * 86_400)
            #expect(!second.created && second.payouts == first.payouts)
            #expect(try await store.balance("payable:" + owner) == Money(decimal: "27")!)
            #expect(try await store.settlePayout(id: first.payouts[0].id, paid: true)?.status == .paid)
            #expect(try await store.settlePayout(id: first.payouts[0].id, paid: false) == nil)
            #expect(try await store.balance("payable:" + owner) == .zero)
            #expect(try await store.balance("external") == Money(decimal: "-23")!)
            #expect(try await store.ledgerTotal() == 0)
            // Periods are spelled one way only: no second run of a month under another name.
            for alias in ["2026-+8", "+2026-8", "02026-8", "2026-8", "2026-08 ", "２０２６-08"] { #expect(PayoutPeriod.range(alias) == nil, "\(alias)") }
            await #expect(throws: PayoutRunError.periodNotStarted) {
                try await store.runPayouts(period: "2999-01", minimum: .zero, debtor: debtor, allowOpenPeriod: true, reserved: [:], now: start)
            }
            // Below the minimum: nobody is paid, nothing moves.
            let quiet = try await store.runPayouts(period: "2026-10", minimum: Money(decimal: "1")!, debtor: debtor, allowOpenPeriod: false, reserved: [:], now: start + 40 * 86_400)
            #expect(quiet.payouts.isEmpty)
            let xml = SEPACreditTransfer.xml(run: first.run, payouts: first.payouts, currency: "EUR")
            #expect(xml.contains("<EndToEndId>" + first.payouts[0].id.replacingOccurrences(of: "_", with: "-") + "</EndToEndId>"))
            #expect(xml.contains("<InstdAmt Ccy=\"EUR\">27.00</InstdAmt>") && xml.contains("<NbOfTxs>1</NbOfTxs>"))
        }
    }
}

struct HubMetricsTests {
    @Test func labelsStayBounded() {
        let metrics = HubMetrics(catalog: .reference)
        for index in 0..<50 {
            metrics.request(
                endpoint: "chat.completions", model: "typo-\(index)", status: 400, code: "node-chosen-\(index)", promptTokens: 1, completionTokens: 1,
                duration: .milliseconds(1), timeToFirstToken: nil)
        }
        metrics.request(
            endpoint: "chat.completions", model: "ref-chat", status: 404, code: "model_not_found", promptTokens: 0, completionTokens: 0,
            duration: .milliseconds(1), timeToFirstToken: nil)
        let text = metrics.registry.emitToString()
        #expect(text.contains(#"porten_requests_total{endpoint="chat.completions",model="other",status="400",code="other"} 50"#))
        #expect(text.contains(#"code="model_not_found""#))
        #expect(!text.contains("typo-") && !text.contains("node-chosen"))
    }
}
