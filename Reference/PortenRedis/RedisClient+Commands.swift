import NIOCore

/// The commands Porten uses, typed. Anything else goes through ``RedisClient/send(_:timeout:)``.
extension RedisClient {
    public func ping() async throws -> String {
        let reply = try await execute(RESPCommand("PING"), deadline: deadline())
        return try Self.expect(reply.string, from: reply, "PING")
    }

    /// The value at `key`, nil when there is none.
    public func get(_ key: String) async throws -> ByteBuffer? {
        let reply = try await execute(RESPCommand("GET", key), deadline: deadline())
        if reply == .null { return nil }
        return try Self.expect(reply.bytes, from: reply, "GET")
    }

    /// SET, with `PX` when `expiry` is given and `NX` when `onlyIfAbsent`; true when the value was
    /// set (false only when `onlyIfAbsent` found the key taken).
    @discardableResult
    public func set(_ key: String, to value: some RedisArgument, expiry: Duration? = nil, onlyIfAbsent: Bool = false) async throws -> Bool {
        var arguments: [any RedisArgument] = ["SET", key, value]
        if let expiry { arguments += ["PX", Self.milliseconds(expiry)] }
        if onlyIfAbsent { arguments.append("NX") }
        let reply = try await execute(RESPCommand(arguments), deadline: deadline())
        if reply == .null { return false }
        guard reply == .simpleString("OK") else { throw RedisError.unexpectedReply("SET answered with \(reply.summary)") }
        return true
    }

    /// Deletes the keys; returns how many existed.
    @discardableResult
    public func del(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await integer(RESPCommand(["DEL"] + keys), "DEL")
    }

    /// Sets `key` to expire after `ttl` (rounded up to whole milliseconds); false when it does not exist.
    @discardableResult
    public func pexpire(_ key: String, after ttl: Duration) async throws -> Bool {
        try await integer(RESPCommand("PEXPIRE", key, Self.milliseconds(ttl)), "PEXPIRE") == 1
    }

    /// Sets `key` to expire after `seconds`; false when it does not exist.
    @discardableResult
    public func expire(_ key: String, seconds: Int) async throws -> Bool {
        try await integer(RESPCommand("EXPIRE", key, seconds), "EXPIRE") == 1
    }

    /// Milliseconds until `key` expires: -1 when it has no expiry, -2 when it does not exist.
    public func pttl(_ key: String) async throws -> Int {
        try await integer(RESPCommand("PTTL", key), "PTTL")
    }

    /// INCR (or INCRBY when `by` is not 1); returns the new value. A value that is not an integer
    /// throws ``RedisError/server(_:)``.
    @discardableResult
    public func incr(_ key: String, by increment: Int = 1) async throws -> Int {
        let command = increment == 1 ? RESPCommand("INCR", key) : RESPCommand("INCRBY", key, increment)
        return try await integer(command, command.name)
    }

    /// Sets the hash's fields; returns how many were new.
    @discardableResult
    public func hset(_ key: String, fields: [String: some RedisArgument]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        var arguments: [any RedisArgument] = ["HSET", key]
        for (field, value) in fields { arguments += [field, value] }
        return try await integer(RESPCommand(arguments), "HSET")
    }

    /// Every field of the hash; empty when the key does not exist.
    public func hgetall(_ key: String) async throws -> [String: ByteBuffer] {
        let reply = try await execute(RESPCommand("HGETALL", key), deadline: deadline())
        let parts = try Self.expect(reply.array, from: reply, "HGETALL")
        guard parts.count.isMultiple(of: 2) else { throw RedisError.unexpectedReply("HGETALL answered with an odd number of elements") }
        var fields: [String: ByteBuffer] = [:]
        for index in stride(from: 0, to: parts.count, by: 2) {
            fields[try Self.expect(parts[index].string, from: parts[index], "HGETALL")] = try Self.expect(
                parts[index + 1].bytes, from: parts[index + 1], "HGETALL")
        }
        return fields
    }

    /// Deletes the hash's fields; returns how many existed.
    @discardableResult
    public func hdel(_ key: String, fields: [String]) async throws -> Int {
        guard !fields.isEmpty else { return 0 }
        return try await integer(RESPCommand(["HDEL", key] + fields), "HDEL")
    }

    /// Publishes `message`; returns how many subscribers (across all clients) received it.
    @discardableResult
    public func publish(_ message: some RedisArgument, to channel: String) async throws -> Int {
        try await integer(RESPCommand("PUBLISH", channel, message), "PUBLISH")
    }

    /// Runs a Lua script; its reply as the script returned it.
    public func eval(_ script: String, keys: [String] = [], arguments: [any RedisArgument] = []) async throws -> RESPValue {
        try await execute(RESPCommand(["EVAL", script, keys.count] + keys + arguments), deadline: deadline())
    }

    /// Runs a script the server has cached; a server without it throws ``RedisError/server(_:)``
    /// starting with `NOSCRIPT`.
    public func evalsha(_ sha1: String, keys: [String] = [], arguments: [any RedisArgument] = []) async throws -> RESPValue {
        try await execute(RESPCommand(["EVALSHA", sha1, keys.count] + keys + arguments), deadline: deadline())
    }

    /// SCRIPT LOAD: caches the script on the server and returns its SHA-1.
    public func scriptLoad(_ script: String) async throws -> String {
        let reply = try await execute(RESPCommand("SCRIPT", "LOAD", script), deadline: deadline())
        return try Self.expect(reply.string, from: reply, "SCRIPT LOAD")
    }

    /// MULTI, the commands, EXEC, written in one piece so that no other command of this client
    /// comes between them, and run by the server as one. Returns EXEC's replies in order; a
    /// command that failed as it ran is an ``RESPValue/error(_:)`` among them. A command the server
    /// refused to queue (unknown, wrong arity) throws ``RedisError/server(_:)`` and nothing runs.
    public func transaction(_ commands: [[any RedisArgument]]) async throws -> [RESPValue] {
        var bytes = RESPCommand("MULTI").bytes
        for command in commands {
            var encoded = RESPCommand(command).bytes
            bytes.writeBuffer(&encoded)
        }
        var exec = RESPCommand("EXEC").bytes
        bytes.writeBuffer(&exec)
        let replies = try await execute(bytes: bytes, name: "MULTI", replies: commands.count + 2, deadline: deadline())
        for reply in replies {
            if case .error(let message) = reply { throw RedisError.server(message) }
        }
        let results = replies[replies.count - 1]
        return try Self.expect(results.array, from: results, "EXEC")
    }

    private func integer(_ command: RESPCommand, _ name: String) async throws -> Int {
        let reply = try await execute(command, deadline: deadline())
        guard case .integer(let value) = reply else { throw RedisError.unexpectedReply("\(name) answered with \(reply.summary)") }
        return value
    }

    static func expect<T>(_ value: T?, from reply: RESPValue, _ name: String) throws -> T {
        guard let value else { throw RedisError.unexpectedReply("\(name) answered with \(reply.summary)") }
        return value
    }

    /// Whole milliseconds, rounded up, at least 1 (Redis refuses a zero expiry).
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let milliseconds = Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        return max(1, milliseconds)
    }
}
