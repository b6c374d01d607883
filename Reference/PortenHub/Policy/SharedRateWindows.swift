import PortenRedis

/// The keys' rate windows in Redis, shared by every Hub replica on it: the same sliding minute as
/// ``RateWindow``, kept as two sorted sets per key (requests, and tokens of ended requests), read
/// and counted in one script so a burst spread over replicas is admitted exactly to the limit.
/// Times come from the Redis server's clock (`TIME`), the one clock every replica shares.
struct SharedRateWindows: Sendable {
    let client: RedisClient

    static func requestsKey(_ keyID: String) -> String { "porten:rate:\(keyID):requests" }
    static func tokensKey(_ keyID: String) -> String { "porten:rate:\(keyID):tokens" }

    /// KEYS: requests, tokens. ARGV: requests per minute (-1: none), tokens per minute (-1: none),
    /// a member unique to the request. Returns 0 when admitted (and counted), else the whole
    /// seconds (≥ 1) until the window would admit it. Token entries are `count:member`.
    static let admitScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local window = 60000
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
        redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
        local rpm = tonumber(ARGV[1])
        local tpm = tonumber(ARGV[2])
        local wait_until = -1
        if rpm >= 0 then
          local count = redis.call('ZCARD', KEYS[1])
          if count >= rpm then
            if rpm == 0 then
              wait_until = now + window
            else
              local entry = redis.call('ZRANGE', KEYS[1], count - rpm, count - rpm, 'WITHSCORES')
              wait_until = tonumber(entry[2]) + window
            end
          end
        end
        if tpm >= 0 then
          local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
          local used = 0
          for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], '^(%d+):')) end
          if used >= tpm then
            local remaining = used
            local freeing = now
            for i = 1, #entries, 2 do
              remaining = remaining - tonumber(string.match(entries[i], '^(%d+):'))
              if remaining < tpm then
                freeing = tonumber(entries[i + 1])
                break
              end
            end
            if freeing + window > wait_until then wait_until = freeing + window end
          end
        end
        if wait_until >= 0 then return math.max(1, math.ceil((wait_until - now) / 1000)) end
        redis.call('ZADD', KEYS[1], now, ARGV[3])
        redis.call('PEXPIRE', KEYS[1], window)
        return 0
        """)

    /// KEYS: tokens. ARGV: the count, a member unique to the request.
    static let recordScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[2])
        redis.call('PEXPIRE', KEYS[1], 60000)
        return 0
        """)

    /// Counts a request of `keyID` when its limits allow it; else the seconds to wait.
    func admit(keyID: String, member: String, requestsPerMinute: Int?, tokensPerMinute: Int?) async throws -> Int? {
        let reply = try await client.run(
            Self.admitScript, keys: [Self.requestsKey(keyID), Self.tokensKey(keyID)],
            arguments: [requestsPerMinute ?? -1, tokensPerMinute ?? -1, member])
        guard let wait = reply.integer else { throw RedisError.unexpectedReply("the rate window script answered without a number") }
        return wait > 0 ? wait : nil
    }

    /// Counts the tokens a finished request of `keyID` used.
    func record(keyID: String, member: String, tokens: Int) async throws {
        _ = try await client.run(Self.recordScript, keys: [Self.tokensKey(keyID)], arguments: [tokens, member])
    }
}
