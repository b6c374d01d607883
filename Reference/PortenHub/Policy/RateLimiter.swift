import OpenAIWire
import Synchronization

/// Enforces the keys' requests-per-minute and tokens-per-minute limits. One lock around check and
/// count, so a burst is never over-admitted.
public final class RateLimiter: Sendable {
    private let windows = Mutex<[String: RateWindow]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant

    public init(now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) { self.now = now }

    /// Counts a request of `key`, or throws `429 rate_limit_exceeded` with a `Retry-After`.
    public func admit(_ key: AuthenticatedKey) throws(APIError) {
        let policy = key.policy
        guard policy.requestsPerMinute != nil || policy.tokensPerMinute != nil else { return }
        let time = now()
        let wait = windows.withLock { windows in
            windows[key.keyID, default: RateWindow()].admit(
                now: time, requestsPerMinute: policy.requestsPerMinute, tokensPerMinute: policy.tokensPerMinute)
        }
        guard let wait else { return }
        let limits = [policy.requestsPerMinute.map { "\($0) requests" }, policy.tokensPerMinute.map { "\($0) tokens" }].compactMap { $0 }
        throw .rateLimitExceeded("Rate limit of this key reached (\(limits.joined(separator: " and ")) per minute). Retry in \(wait) s.", retryAfter: wait)
    }

    /// Counts the tokens a finished request of `key` used.
    public func record(_ key: AuthenticatedKey, tokens: Int) {
        guard key.policy.tokensPerMinute != nil, tokens > 0 else { return }
        let time = now()
        windows.withLock { $0[key.keyID, default: RateWindow()].record(tokens: tokens, at: time) }
    }
}
