import Synchronization

/// With `--require-credit`: what running requests may still cost, per account. A request is
/// admitted while the account's balance exceeds what is already reserved, and reserves its most
/// (its prompt and `max_tokens` at the model's price) until it ends, so parallel requests cannot
/// spend far past a balance: the overshoot is at most one request's most.
public final class CreditReservations: Sendable {
    private let reserved = Mutex<[String: Int64]>([:])

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

        public func release() {
            guard released.withLock({ done in
                defer { done = true }
                return !done
            }) else { return }
            owner.reserved.withLock { reserved in
                let left = (reserved[account] ?? 0) - amount
                reserved[account] = left > 0 ? left : nil
            }
        }
    }

    /// Reserves `amount` if the account's `balance` exceeds what is reserved already; nil when not.
    public func reserve(account: String, amount: Money, balance: Money) -> Ticket? {
        reserved.withLock { reserved in
            let current = reserved[account] ?? 0
            guard balance.micros > current else { return nil }
            reserved[account] = current + max(0, amount.micros)
            return Ticket(account: account, amount: max(0, amount.micros), owner: self)
        }
    }
}
