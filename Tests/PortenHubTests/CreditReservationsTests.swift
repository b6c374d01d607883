import Foundation
import Logging
import OpenAIWire
@testable import PortenHub
import Testing

/// `--require-credit`: parallel requests cannot spend far past a balance, even when a balance read
/// misses a charge written while it ran.
struct CreditReservationsTests {
    private let account = "acct_1"

    private func money(_ micros: Int64) -> Money { Money(micros: micros) }

    @Test func aReadThatBeganBeforeARelease_countsThatReservation() throws {
        let credit = CreditReservations()
        let first = try #require(credit.reserve(credit.openRead(account: account), amount: money(4_000), balance: money(1)))
        let second = credit.openRead(account: account)  // reads the balance: 1, the first's charge not in it yet
        first.release()  // the first's charge is written, then its reservation ends
        #expect(credit.reserve(second, amount: money(4_000), balance: money(1)) == nil)
        // A read that began after the release shows the charge; nothing of the first is counted.
        let third = try #require(credit.reserve(credit.openRead(account: account), amount: money(4_000), balance: money(1)))
        third.release()
        #expect(credit.trackedAccounts == 0)
    }

    @Test func aReleaseIsForgottenOnceNoReadBeganBeforeIt() throws {
        let credit = CreditReservations()
        let first = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(100)))
        let old = credit.openRead(account: account)
        first.release()
        let new = credit.openRead(account: account)
        credit.abandon(old)
        // `new` began after the release: 5 > 0 reserved.
        let second = try #require(credit.reserve(new, amount: money(10), balance: money(5)))
        second.release()
        second.release()  // once only
        let third = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(5)))
        // Released while no read is open: nothing is kept.
        third.release()
        #expect(credit.trackedAccounts == 0)
    }

    @Test func aTicketNobodyHoldsIsGivenBack() {
        let credit = CreditReservations()
        _ = credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10))
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)) != nil)
        #expect(credit.trackedAccounts == 0)
    }

    @Test func aPayoutCountsForAReadThatBeganBeforeIt() throws {
        let credit = CreditReservations()
        let first = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(100)))
        #expect(credit.running() == [account: money(10)])
        let read = credit.openRead(account: account)  // reads 100, before a payout of 95 commits
        credit.debited(account: account, amount: money(95))
        #expect(credit.reserve(read, amount: money(10), balance: money(100)) == nil)  // not above 10 + 95
        // A read after it shows the payout in its balance; only what runs is counted.
        let second = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(11)))
        first.release()
        #expect(credit.running() == [account: money(10)])
        second.release()
        #expect(credit.running().isEmpty && credit.trackedAccounts == 0)
    }

    @Test func otherAccountsAreNotCounted() throws {
        let credit = CreditReservations()
        let other = try #require(credit.reserve(credit.openRead(account: "acct_2"), amount: money(10), balance: money(100)))
        let read = credit.openRead(account: account)
        other.release()
        #expect(credit.reserve(read, amount: money(10), balance: money(5)) != nil)
    }

    /// Requests of one account, each: open a read, read the ledger (or fail to, and abandon the
    /// read), reserve its most (0…300), be charged at most that, then release; their steps
    /// interleaved in random (seeded) orders, a charge and its release apart. What they spend never
    /// passes the balance by more than the largest most, and nothing stays tracked.
    @Test(arguments: 0..<300) func interleavedRequestsOvershootByAtMostOneRequestsMost(seed: UInt64) {
        var random = SplitMix(seed: seed)
        let credit = CreditReservations()
        let largest: Int64 = 300
        let start = Int64(random.next() % 600) + 1
        var ledger = start
        enum Step {
            case open(most: Int64)
            case read(CreditReservations.Read, most: Int64)
            case reserve(CreditReservations.Read, balance: Int64, most: Int64)
            case charge(CreditReservations.Ticket, most: Int64)
            case release(CreditReservations.Ticket)
            case done
        }
        var requests = (0..<24).map { _ in Step.open(most: Int64(random.next() % UInt64(largest + 1))) }
        var held: [CreditReservations.Ticket] = []  // a released ticket stays alive: no deinit hides a missed release
        while let index = requests.indices.filter({ if case .done = requests[$0] { false } else { true } }).randomElement(using: &random) {
            switch requests[index] {
            case .open(let most): requests[index] = .read(credit.openRead(account: account), most: most)
            case .read(let read, let most):
                if random.next() % 10 == 0 {
                    credit.abandon(read)
                    requests[index] = .done
                } else {
                    requests[index] = .reserve(read, balance: ledger, most: most)
                }
            case .reserve(let read, let balance, let most):
                if let ticket = credit.reserve(read, amount: money(most), balance: money(balance)) {
                    held.append(ticket)
                    requests[index] = .charge(ticket, most: most)
                } else {
                    requests[index] = .done
                }
            case .charge(let ticket, let most):
                ledger -= Int64(random.next() % UInt64(most + 1))
                requests[index] = .release(ticket)
            case .release(let ticket):
                ticket.release()
                requests[index] = .done
            case .done: break
            }
        }
        #expect(ledger >= -largest, "spent \(start - ledger) of \(start)")
        #expect(credit.trackedAccounts == 0)
        _ = held
    }

    private func services(_ store: SQLiteStore) -> HubServices {
        HubServices(
            configuration: HubConfiguration(port: 0, adminToken: "padm-test"), store: store, catalog: .reference,
            registry: NodeRegistry(catalog: .reference), usage: UsageRecorder(store: store, logger: Logger(label: "test")),
            logger: Logger(label: "test"))
    }

    @Test func aMeterEndsItsCreditWithItsRow() async throws {
        let store = try SQLiteStore.inMemory()
        let services = services(store)
        let credit = services.creditReservations
        let key = AuthenticatedKey(keyID: "key_1", accountID: account)
        // A request that ends without an answer: its row (a stream cut after 3 pieces) is queued,
        // the recorder is not running yet, so its credit stays reserved.
        var cut = UsageMeter(services, requestID: "req_cut", endpoint: "chat.completions", key: key)
        cut.reservation = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)))
        cut.relayedDeltas = 3
        cut.finish(status: 499, usage: nil)
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)) == nil)
        let running = Task { try await services.usage.run() }
        defer { running.cancel() }
        await services.usage.flush()
        #expect(try await store.recentUsage(limit: 10).map(\.requestID) == ["req_cut"])
        // An answer: its credit ends once its row is written.
        var answered = UsageMeter(services, requestID: "req_ok", endpoint: "chat.completions", key: key)
        answered.reservation = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)))
        try await answered.commit(usage: Usage(promptTokens: 1, completionTokens: 0))
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)) != nil)
        _ = (cut, answered)
    }

    @Test func aFinishedRequestsCreditEndsOnlyOnceItsRowIsWritten() async throws {
        let store = try SQLiteStore.inMemory()
        let recorder = UsageRecorder(store: store, logger: Logger(label: "test"))
        let credit = CreditReservations()
        let ticket = try #require(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)))
        // The recorder's loop is not running: the row waits, and so does the reservation.
        recorder.record(
            UsageRecord(
                time: Date(), requestID: "req_cut", keyID: nil, accountID: account, nodeID: nil, region: nil, model: "m", endpoint: "chat.completions",
                promptTokens: 0, completionTokens: 3, status: 499, latencyMS: 3, timeToFirstTokenMS: nil),
            releasing: ticket)
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)) == nil)
        let running = Task { try await recorder.run() }
        defer { running.cancel() }
        await recorder.flush()
        #expect(try await store.recentUsage(limit: 10).map(\.requestID) == ["req_cut"])
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(10)) != nil)
    }
}

/// A small seeded generator (SplitMix64), so a failing interleaving can be replayed.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
