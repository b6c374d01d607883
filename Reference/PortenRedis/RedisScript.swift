import Synchronization

/// A Lua script run by its SHA-1 (EVALSHA). The SHA-1 comes from SCRIPT LOAD the first time, and
/// again when the server answers NOSCRIPT (it restarted, or its script cache was flushed).
public final class RedisScript: Sendable {
    public let source: String
    private let sha1 = Mutex<String?>(nil)

    public init(_ source: String) {
        self.source = source
    }

    /// Deletes KEYS[1] only while its value is ARGV[1]: releasing a lock only by its owner.
    /// Returns 1 when it deleted, else 0.
    public static let compareAndDelete = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    /// INCRBY KEYS[1] by ARGV[1], then, when the key has no expiry (it is new), PEXPIRE it by ARGV[2]
    /// milliseconds, as one step: a rate window that no crash can leave without an expiry.
    /// Returns the new count.
    public static let incrementWithExpiry = RedisScript(
        """
        local count = redis.call('INCRBY', KEYS[1], ARGV[1])
        if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return count
        """)

    var loaded: String? {
        get { sha1.withLock { $0 } }
        set { sha1.withLock { $0 = newValue } }
    }
}

extension RedisClient {
    /// Runs `script` with EVALSHA, loading it first when the server does not have it.
    public func run(_ script: RedisScript, keys: [String] = [], arguments: [any RedisArgument] = []) async throws -> RESPValue {
        let deadline = deadline()
        func evalsha(_ sha1: String) async throws -> RESPValue {
            let command: [any RedisArgument] = ["EVALSHA", sha1, keys.count]
            return try await execute(RESPCommand(command + keys + arguments), deadline: deadline)
        }
        if let sha1 = script.loaded {
            do {
                return try await evalsha(sha1)
            } catch RedisError.server(let message) where message.hasPrefix("NOSCRIPT") {}
        }
        let reply = try await execute(RESPCommand("SCRIPT", "LOAD", script.source), deadline: deadline)
        let sha1 = try Self.expect(reply.string, from: reply, "SCRIPT LOAD")
        script.loaded = sha1
        return try await evalsha(sha1)
    }

    /// Takes the lock at `key` for `ttl` unless someone holds it (SET NX PX); `token` identifies
    /// the owner for ``releaseLock(_:token:)``. True when taken.
    public func acquireLock(_ key: String, token: String, ttl: Duration) async throws -> Bool {
        try await set(key, to: token, expiry: ttl, onlyIfAbsent: true)
    }

    /// Releases the lock at `key` if `token` still holds it; true when it did. A lock that expired
    /// and was taken by another owner is left alone.
    @discardableResult
    public func releaseLock(_ key: String, token: String) async throws -> Bool {
        try await run(.compareAndDelete, keys: [key], arguments: [token]).integer == 1
    }

    /// Adds `increment` to the counter at `key`, which expires `window` after its first increment;
    /// returns the count in the window so far.
    public func incrementWindow(_ key: String, by increment: Int = 1, window: Duration) async throws -> Int {
        let reply = try await run(.incrementWithExpiry, keys: [key], arguments: [increment, Self.milliseconds(window)])
        return try Self.expect(reply.integer, from: reply, "rate window script")
    }
}
