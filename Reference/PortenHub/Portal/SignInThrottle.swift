import Foundation
import Synchronization

/// Slows down password guessing. Every sign-in attempt is counted as a failure the moment it is
/// admitted — before its password is hashed, so a burst of parallel guesses is counted as it
/// arrives — and a success takes its count back. Counts are kept per email and per client
/// address over a 15-minute window. From the 5th failure for an email (20th for an address) every
/// further attempt must wait 2^(failures − free + 2) seconds after the last one (4 s, 8 s, …, at
/// most 15 minutes) and is refused unchecked until then.
///
/// It also bounds the password hashing in progress (scrypt: 32 MiB and ~0.1 s each), so a flood
/// of sign-ins cannot queue up minutes of work in front of everyone else's. Held in memory: a
/// restart forgets it, and each Hub replica counts its own.
public final class SignInThrottle: Sendable {
    struct Record {
        var failures: Int
        var last: Date
    }

    private let state = Mutex<(emails: [String: Record], addresses: [String: Record])>(([:], [:]))
    private let hashing = Mutex(0)
    let window: TimeInterval = 900
    let freeEmailFailures: Int
    let freeAddressFailures: Int
    /// Password hashes that may run or wait at once.
    let maximumHashes: Int

    public init(freeEmailFailures: Int = 5, freeAddressFailures: Int = 20, maximumHashes: Int = 4) {
        self.freeEmailFailures = freeEmailFailures
        self.freeAddressFailures = freeAddressFailures
        self.maximumHashes = maximumHashes
    }

    /// How long the caller must still wait, without counting anything; nil: go ahead.
    public func waiting(email: String?, address: String?, now: Date = Date()) -> TimeInterval? {
        state.withLock { state in
            let byEmail = email.flatMap { delay(state.emails[$0], free: freeEmailFailures, now: now) }
            let byAddress = address.flatMap { delay(state.addresses[$0], free: freeAddressFailures, now: now) }
            let wait = max(byEmail ?? 0, byAddress ?? 0)
            return wait > 0 ? wait : nil
        }
    }

    /// Admits an attempt for `email` (nil: an attempt that names no account, such as a sign-up)
    /// from `address`, counting it as a failure; or returns how long the caller must still wait.
    public func admit(email: String?, address: String?, now: Date = Date()) -> TimeInterval? {
        state.withLock { state in
            let byEmail = email.flatMap { delay(state.emails[$0], free: freeEmailFailures, now: now) }
            let byAddress = address.flatMap { delay(state.addresses[$0], free: freeAddressFailures, now: now) }
            let wait = max(byEmail ?? 0, byAddress ?? 0)
            if wait > 0 { return wait }
            count(&state, email: email, address: address, now: now)
            return nil
        }
    }

    /// Counts a failure that was not admitted through `admit` (checked with `waiting` first).
    public func fail(email: String?, address: String?, now: Date = Date()) {
        state.withLock { count(&$0, email: email, address: address, now: now) }
    }

    private func count(_ state: inout (emails: [String: Record], addresses: [String: Record]), email: String?, address: String?, now: Date) {
            if state.emails.count + state.addresses.count > 100_000 { prune(&state, now: now) }
            if let email { state.emails[email] = bump(state.emails[email], now: now) }
            if let address { state.addresses[address] = bump(state.addresses[address], now: now) }
    }

    /// The admitted attempt was right: the email starts afresh and the address gets its count back.
    public func succeeded(email: String, address: String?) {
        state.withLock { state in
            state.emails.removeValue(forKey: email)
            if let address, let record = state.addresses[address] {
                state.addresses[address] = record.failures > 1 ? Record(failures: record.failures - 1, last: record.last) : nil
            }
        }
    }

    /// Takes one of the hashing slots; false when all are busy (the caller answers 429).
    public func startHashing() -> Bool {
        hashing.withLock { busy in
            guard busy < maximumHashes else { return false }
            busy += 1
            return true
        }
    }

    public func endHashing() { hashing.withLock { $0 = max(0, $0 - 1) } }

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
