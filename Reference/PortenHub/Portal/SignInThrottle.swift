import Foundation
import Synchronization

/// Slows down password guessing: failed sign-ins are counted per email and per client address
/// over a 15-minute window. From the 5th failure for an email (20th for an address) every further
/// attempt must wait 2^(failures − free + 2) seconds after the last failure (4 s, 8 s, …, at most
/// 15 minutes), and is refused unchecked until then; a successful sign-in clears the email's
/// count. Held in memory: a restart forgets it.
public final class SignInThrottle: Sendable {
    struct Record {
        var failures: Int
        var last: Date
    }

    private let state = Mutex<(emails: [String: Record], addresses: [String: Record])>(([:], [:]))
    let window: TimeInterval = 900
    let freeEmailFailures = 5
    let freeAddressFailures = 20

    public init() {}

    /// How long the caller must still wait before trying `email` from `address`; nil: go ahead.
    public func wait(email: String, address: String?, now: Date = Date()) -> TimeInterval? {
        state.withLock { state in
            let byEmail = delay(state.emails[email], free: freeEmailFailures, now: now)
            let byAddress = address.flatMap { delay(state.addresses[$0], free: freeAddressFailures, now: now) }
            let wait = max(byEmail ?? 0, byAddress ?? 0)
            return wait > 0 ? wait : nil
        }
    }

    public func recordFailure(email: String, address: String?, now: Date = Date()) {
        state.withLock { state in
            if state.emails.count + state.addresses.count > 100_000 { prune(&state, now: now) }
            state.emails[email] = bump(state.emails[email], now: now)
            if let address { state.addresses[address] = bump(state.addresses[address], now: now) }
        }
    }

    public func recordSuccess(email: String) {
        _ = state.withLock { $0.emails.removeValue(forKey: email) }
    }

    private func bump(_ record: Record?, now: Date) -> Record {
        guard let record, now.timeIntervalSince(record.last) < window else { return Record(failures: 1, last: now) }
        return Record(failures: record.failures + 1, last: now)
    }

    private func delay(_ record: Record?, free: Int, now: Date) -> TimeInterval? {
        guard let record, record.failures >= free, now.timeIntervalSince(record.last) < window else { return nil }
        let backoff = min(pow(2, Double(record.failures - free + 2)), window)
        let left = backoff - now.timeIntervalSince(record.last)
        return left > 0 ? left : nil
    }

    private func prune(_ state: inout (emails: [String: Record], addresses: [String: Record]), now: Date) {
        state.emails = state.emails.filter { now.timeIntervalSince($0.value.last) < window }
        state.addresses = state.addresses.filter { now.timeIntervalSince($0.value.last) < window }
    }
}
