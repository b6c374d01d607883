import Logging
import OpenAIWire
import PortenRedis
import ServiceLifecycle
import Synchronization

/// Enforces the keys' requests-per-minute and tokens-per-minute limits.
///
/// Alone, a Hub keeps each key's window in memory, one lock around check and count, so a burst is
/// never over-admitted. With Redis (`--redis-url`), the windows live there and every replica on it
/// counts against the same minute (``SharedRateWindows``). When Redis cannot answer, each replica
/// falls back to its own count (logged, `porten_redis_up` 0, `rate_limits: per_replica` in the
/// fleet view) and returns to the shared one when Redis does; limits are never skipped.
public final class RateLimiter: Service, Sendable {
    /// How the limits are counted right now.
    public enum Mode: String, Sendable {
        /// One Hub: its own windows.
        case local
        /// Redis, shared with every replica on it.
        case shared
        /// Redis is configured but unavailable: each replica counts on its own.
        case perReplica = "per_replica"
    }

    private let windows = Mutex<[String: RateWindow]>([:])
    private let now: @Sendable () -> ContinuousClock.Instant
    private let redis: RedisClient?
    private let shared: SharedRateWindows?
    private let sharedUp = Mutex(true)
    /// Token counts of ended requests, on their way to Redis.
    private let pendingTokens: (stream: AsyncStream<(keyID: String, tokens: Int)>, continuation: AsyncStream<(keyID: String, tokens: Int)>.Continuation)
    private let metrics: HubMetrics?
    private let logger: Logger

    public init(
        redis: RedisClient? = nil, metrics: HubMetrics? = nil, logger: Logger = Logger(label: "porten.rate"),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }
    ) {
        self.now = now
        self.redis = redis
        self.shared = redis.map(SharedRateWindows.init)
        self.metrics = metrics
        self.logger = logger
        pendingTokens = AsyncStream.makeStream(of: (keyID: String, tokens: Int).self, bufferingPolicy: .bufferingNewest(10_000))
        metrics?.redisUp(redis == nil ? nil : true)
    }

    public var mode: Mode {
        guard shared != nil else { return .local }
        return sharedUp.withLock { $0 } ? .shared : .perReplica
    }

    /// Counts a request of `key`, or throws `429 rate_limit_exceeded` with a `Retry-After`.
    public func admit(_ key: AuthenticatedKey) async throws(APIError) {
        let policy = key.policy
        guard policy.requestsPerMinute != nil || policy.tokensPerMinute != nil else { return }
        var wait: Int?
        switch await admitShared(key) {
        case .admitted:
            // This replica's share is counted here too, so a fallback starts from it.
            windows.withLock { $0[key.keyID, default: RateWindow()].count(now: now()) }
        case .wait(let seconds):
            wait = seconds
        case nil:
            let time = now()
            wait = windows.withLock { windows in
                windows[key.keyID, default: RateWindow()].admit(
                    now: time, requestsPerMinute: policy.requestsPerMinute, tokensPerMinute: policy.tokensPerMinute)
            }
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
        if shared != nil { pendingTokens.continuation.yield((key.keyID, tokens)) }
    }

    private enum SharedAnswer { case admitted, wait(Int) }

    /// Redis's answer, or nil without Redis or when it could not answer.
    private func admitShared(_ key: AuthenticatedKey) async -> SharedAnswer? {
        guard let shared, let redis else { return nil }
        // Known to be down: count here at once rather than wait out the command timeout.
        guard redis.isConnected else {
            markShared(up: false, error: RedisError.unavailable("not connected"))
            return nil
        }
        do {
            let wait = try await shared.admit(
                keyID: key.keyID, member: Self.member(), requestsPerMinute: key.policy.requestsPerMinute, tokensPerMinute: key.policy.tokensPerMinute)
            markShared(up: true, error: nil)
            return wait.map(SharedAnswer.wait) ?? .admitted
        } catch {
            markShared(up: false, error: error)
            return nil
        }
    }

    private func markShared(up: Bool, error: (any Error)?) {
        let changed = sharedUp.withLock { state in
            defer { state = up }
            return state != up
        }
        guard changed else { return }
        metrics?.redisUp(up)
        if up {
            logger.notice("Redis answers again: rate limits are shared by the replicas again")
        } else {
            logger.warning("Redis is unavailable: rate limits fall back to each replica's own count", metadata: ["error": "\(error.map { "\($0)" } ?? "")"])
        }
    }

    /// A member unique to one request in a key's window.
    private static func member() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 36) + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }

    /// With Redis: keeps its connections and sends the token counts of ended requests. Alone:
    /// waits for the shutdown.
    public func run() async throws {
        guard let redis, let shared else {
            try? await gracefulShutdown()
            return
        }
        let pending = pendingTokens.stream
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask { await redis.run() }
                group.addTask {
                    for await entry in pending {
                        do {
                            try await shared.record(keyID: entry.keyID, member: Self.member(), tokens: entry.tokens)
                            self.markShared(up: true, error: nil)
                        } catch {
                            self.markShared(up: false, error: error)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.pendingTokens.continuation.finish()
            redis.shutdown()
        }
    }
}
