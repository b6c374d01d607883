/// One key's requests and tokens over the last minute, and the admission rule for its limits.
public struct RateWindow: Sendable {
    public static let length = Duration.seconds(60)
    private var requests: [ContinuousClock.Instant] = []
    private var tokens: [(at: ContinuousClock.Instant, count: Int)] = []

    public init() {}

    /// Admits one request at `now` and counts it, or returns the whole seconds (≥ 1) until the
    /// window would admit it: past `requestsPerMinute` requests, or once the tokens of the last
    /// minute reached `tokensPerMinute` (a request's tokens are known only when it ends).
    public mutating func admit(now: ContinuousClock.Instant, requestsPerMinute: Int?, tokensPerMinute: Int?) -> Int? {
        prune(now: now)
        var waitUntil: ContinuousClock.Instant?
        if let limit = requestsPerMinute, requests.count >= limit {
            waitUntil = requests[requests.count - limit] + Self.length
        }
        if let limit = tokensPerMinute, usedTokens >= limit {
            var remaining = usedTokens
            let freeing = tokens.first { entry in
                remaining -= entry.count
                return remaining < limit
            }
            let tokenWait = (freeing?.at ?? now) + Self.length
            waitUntil = max(waitUntil ?? tokenWait, tokenWait)
        }
        if let waitUntil { return max(1, Int(((waitUntil - now) / .seconds(1)).rounded(.up))) }
        requests.append(now)
        return nil
    }

    /// Counts a request admitted elsewhere (by the windows shared in Redis) at `now`.
    public mutating func count(now: ContinuousClock.Instant) {
        prune(now: now)
        requests.append(now)
    }

    /// Counts the tokens of a request that ended at `now`.
    public mutating func record(tokens count: Int, at now: ContinuousClock.Instant) {
        guard count > 0 else { return }
        tokens.append((now, count))
    }

    public var usedTokens: Int { tokens.reduce(0) { $0 + $1.count } }

    public var isEmpty: Bool { requests.isEmpty && tokens.isEmpty }

    public mutating func prune(now: ContinuousClock.Instant) {
        let start = now - Self.length
        requests.removeAll { $0 <= start }
        tokens.removeAll { $0.at <= start }
    }
}
