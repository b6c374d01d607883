import Synchronization

/// With `--require-credit`: what running requests may still cost, per account. A request is
/// admitted while the account's balance exceeds what is already reserved, and reserves its most
/// (its prompt and `max_tokens` at the model's price) until it ends, so parallel requests cannot
/// spend far past a balance: the overshoot is at most one request's most.
///
/// A ticket is released once its request's charge is in the ledger; a balance read that began
/// before that may not show the charge. So a read is opened before the balance is read
/// (``openRead(account:)``), and what tickets released after it began stay counted for it: one
/// request's read cannot miss another's charge and its reservation both.
public final class CreditReservations: Sendable {
    private struct Account {
        /// Reserved by the requests still running.
        var running: Int64 = 0
        /// The releases some open read began before, oldest first, and their sum.
        var released: [(number: UInt64, amount: Int64)] = []
        var releasedSum: Int64 = 0
        /// The reads in progress, by the release number they began after.
        var reads: [UInt64: Int] = [:]
        /// Releases so far (the entry goes when nothing is running, released or being read).
        var releases: UInt64 = 0

        var isIdle: Bool { running == 0 && released.isEmpty && reads.isEmpty }

        /// `amount` left the balance (a charge with its ticket's release, a payout): the open
        /// reads, which began before, count it.
        mutating func recordRelease(_ amount: Int64) {
            releases += 1
            guard !reads.isEmpty else { return }
            released.append((releases, amount))
            releasedSum += amount
        }

        /// What was released after release `start`: a read that began then may miss its charges.
        func releasedAfter(_ start: UInt64) -> Int64 {
            var sum = releasedSum
            for release in released {
                guard release.number <= start else { break }
                sum -= release.amount
            }
            return sum
        }

        /// Ends a read that began after release `start`; forgets the releases every open read has seen.
        mutating func close(_ start: UInt64) {
            if let count = reads[start], count > 1 { reads[start] = count - 1 } else { reads[start] = nil }
            let oldest = reads.keys.min() ?? releases
            let seen = released.prefix { $0.number <= oldest }
            releasedSum -= seen.reduce(0) { $0 + $1.amount }
            released.removeFirst(seen.count)
        }
    }

    private let accounts = Mutex<[String: Account]>([:])

    public init() {}

    /// A reservation; `release` gives it back (once).
    public final class Ticket: Sendable {
        let account: String
        let amount: Int64
        let owner: CreditReservations
        private let released = Mutex(false)

        init(account: String, amount: Int64, owner: CreditReservations) {
            self.account = account
            self.amount = amount
            self.owner = owner
        }

        /// A ticket nobody holds any more was given back, or lost with a path that forgot it: it
        /// cannot lock its account out for good.
        deinit { release() }

        /// Gives the reservation back: call it once the request's charge, if any, is in the ledger.
        public func release() {
            guard released.withLock({ done in
                defer { done = true }
                return !done
            }) else { return }
            owner.accounts.withLock { accounts in
                guard var entry = accounts[account] else { return }
                entry.running -= amount
                entry.recordRelease(amount)
                accounts[account] = entry.isIdle ? nil : entry
            }
        }
    }

    /// What running requests have reserved, per account.
    public func running() -> [String: Money] {
        accounts.withLock { accounts in accounts.compactMapValues { $0.running > 0 ? Money(micros: $0.running) : nil } }
    }

    /// `amount` left `account` other than by a request's charge (a payout), just now: a read that
    /// began before may not show it, so it counts for that read as a released ticket does. (A read
    /// that reserves between the debit's commit and this call can still miss it.)
    public func debited(account: String, amount: Money) {
        accounts.withLock { accounts in
            guard var entry = accounts[account], !entry.reads.isEmpty else { return }
            entry.recordRelease(amount.micros)
            accounts[account] = entry
        }
    }

    /// The accounts with something running, released or being read (tests: none once all is over).
    var trackedAccounts: Int { accounts.withLock { $0.count } }

    /// A balance read in progress: ``reserve(_:amount:balance:)`` or ``abandon(_:)`` closes it.
    public struct Read: Sendable {
        let account: String
        let start: UInt64
    }

    /// Opens a read of `account`'s balance: call it before reading the balance.
    public func openRead(account: String) -> Read {
        accounts.withLock { accounts in
            var entry = accounts[account] ?? Account()
            entry.reads[entry.releases, default: 0] += 1
            accounts[account] = entry
            return Read(account: account, start: entry.releases)
        }
    }

    /// Closes `read` without reserving (its balance could not be read).
    public func abandon(_ read: Read) {
        accounts.withLock { accounts in
            guard var entry = accounts[read.account] else { return }
            entry.close(read.start)
            accounts[read.account] = entry.isIdle ? nil : entry
        }
    }

    /// Closes `read` and reserves `amount` if the `balance` it read exceeds what is reserved, counting
    /// the tickets released since the read began (their charges may be missing from it); nil when not.
    public func reserve(_ read: Read, amount: Money, balance: Money) -> Ticket? {
        accounts.withLock { accounts in
            var entry = accounts[read.account] ?? Account()
            let unseen = entry.releasedAfter(read.start)
            entry.close(read.start)
            defer { accounts[read.account] = entry.isIdle ? nil : entry }
            guard balance.micros > entry.running + unseen else { return nil }
            entry.running += max(0, amount.micros)
            return Ticket(account: read.account, amount: max(0, amount.micros), owner: self)
        }
    }
}
