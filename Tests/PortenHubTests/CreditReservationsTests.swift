import Foundation
import Logging
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
        #expect(credit.reserve(credit.openRead(account: account), amount: money(4_000), balance: money(-3_999)) == nil)
        #expect(credit.reserve(credit.openRead(account: account), amount: money(4_000), balance: money(1)) != nil)
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
        #expect(credit.reserve(credit.openRead(account: account), amount: money(10), balance: money(5)) != nil)
    }

    @Test func otherAccountsAreNotCounted() throws {
        let credit = CreditReservations()
        let other = try #require(credit.reserve(credit.openRead(account: "acct_2"), amount: money(10), balance: money(100)))
        let read = credit.openRead(account: account)
        other.release()
        #expect(credit.reserve(read, amount: money(10), balance: money(5)) != nil)
    }

    /// Requests of one account, each: open a read, read the ledger, reserve, be charged at most
    /// its most, then release; their steps interleaved in random (seeded) orders. What they spend
    /// never passes the balance by more than one request's most.
    @Test(arguments: 0..<200) func interleavedRequestsOvershootByAtMostOneRequestsMost(seed: UInt64) {
        var random = SplitMix(seed: seed)
        let credit = CreditReservations()
        let most: Int64 = 100
        let start = Int64(random.next() % 500) + 1
        var ledger = start
        enum Step { case open, read(CreditReservations.Read), reserve(CreditReservations.Read, Int64), charge(CreditReservations.Ticket), done }
        var requests = Array(repeating: Step.open, count: 12)
        while let index = requests.indices.filter({ if case .done = requests[$0] { false } else { true } }).randomElement(using: &random) {
            switch requests[index] {
            case .open: requests[index] = .read(credit.openRead(account: account))
            case .read(let read): requests[index] = .reserve(read, ledger)
            case .reserve(let read, let balance):
                requests[index] = credit.reserve(read, amount: money(most), balance: money(balance)).map(Step.charge) ?? .done
            case .charge(let ticket):
                ledger -= Int64(random.next() % UInt64(most + 1))
                ticket.release()
                requests[index] = .done
            case .done: break
            }
        }
        #expect(ledger >= -most, "spent \(start - ledger) of \(start)")
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
