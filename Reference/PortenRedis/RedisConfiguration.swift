/// Where the server is and how patiently to talk to it.
public struct RedisConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// ACL user for `AUTH username password`; nil with a password sends `AUTH password`.
    public var username: String?
    public var password: String?
    /// The database every connection SELECTs (0, the default, sends no SELECT).
    public var database: Int
    /// The longest any command waits, for a connection and then for its reply.
    public var commandTimeout: Duration
    /// The longest one connection attempt (TCP, AUTH, SELECT, PING) takes.
    public var connectTimeout: Duration
    /// Waits between reconnection attempts: the first, doubled after each failure up to the maximum,
    /// each shortened by up to a fifth at random so replicas do not retry in step.
    public var reconnectDelay: Duration
    public var maxReconnectDelay: Duration
    /// How often an idle connection is checked with PING (nil: never); a PING without a reply
    /// within ``commandTimeout`` closes the connection, as a command's would.
    public var healthCheckInterval: Duration?
    /// How many undelivered messages each subscription keeps; past that the oldest are dropped.
    public var subscriptionBufferSize: Int
    public var decoderLimits: RESPDecoder.Limits

    public init(
        host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0,
        commandTimeout: Duration = .seconds(2), connectTimeout: Duration = .seconds(2),
        reconnectDelay: Duration = .milliseconds(100), maxReconnectDelay: Duration = .seconds(5),
        healthCheckInterval: Duration? = .seconds(5), subscriptionBufferSize: Int = 1024,
        decoderLimits: RESPDecoder.Limits = .init()
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.commandTimeout = commandTimeout
        self.connectTimeout = connectTimeout
        self.reconnectDelay = reconnectDelay
        self.maxReconnectDelay = maxReconnectDelay
        self.healthCheckInterval = healthCheckInterval
        self.subscriptionBufferSize = subscriptionBufferSize
        self.decoderLimits = decoderLimits
    }

    /// Reads `redis://[[username]:password@]host[:port][/db]`. The password and username may be
    /// percent-encoded (needed for `@`, `:`, `/` and `%`); an IPv6 host is written in brackets.
    /// Every other setting keeps its default.
    public init(url: String) throws(RedisError) {
        let scheme = "redis://"
        guard url.lowercased().hasPrefix(scheme) else {
            if url.lowercased().hasPrefix("rediss://") { throw .invalidURL("rediss:// (TLS) is not supported; use redis://") }
            throw .invalidURL("expected redis://host[:port][/db], got \"\(Self.redacted(url))\"")
        }
        var rest = Substring(url.dropFirst(scheme.count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            guard let colon = userinfo.firstIndex(of: ":") else {
                throw .invalidURL("credentials must be written user:password@ or :password@")
            }
            let user = try Self.percentDecoded(userinfo[..<colon], part: "username")
            username = user.isEmpty ? nil : user
            password = try Self.percentDecoded(userinfo[userinfo.index(after: colon)...], part: "password")
            if password!.isEmpty { throw .invalidURL("the password after ':' is empty") }
        }
        if rest.contains("?") || rest.contains("#") { throw .invalidURL("query and fragment are not supported") }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = rest[slash...].dropFirst()

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL("unclosed '[' in the host") }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL("unexpected \"\(after)\" after the IPv6 host") }
                portText = after.dropFirst()
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        guard !host.isEmpty else { throw .invalidURL("the host is missing") }
        var port = 6379
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number), portText.allSatisfy(\.isASCII) else {
                // Not repeated: a URL missing its '@' puts the password here.
                throw .invalidURL("the port is not a number from 1 to 65535")
            }
            port = number
        }
        var database = 0
        if !path.isEmpty {
            // Redis numbers databases with a C int; a larger one would be refused at every connect.
            guard let number = Int(path), (0...Int(Int32.max)).contains(number), path.allSatisfy(\.isASCII) else {
                throw .invalidURL("the path must be a database number from 0 to \(Int32.max)")
            }
            database = number
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
    }

    /// host:port, for messages and logs (never the credentials).
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func percentDecoded(_ text: Substring, part: String) throws(RedisError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                throw .invalidURL("bad percent-encoding in the \(part)")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw .invalidURL("the \(part) is not UTF-8") }
        return decoded
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The URL with any credentials replaced, for error messages.
    private static func redacted(_ url: String) -> String {
        guard let at = url.lastIndex(of: "@") else { return String(url.prefix(100)) }
        let scheme = url.split(separator: "/", maxSplits: 1).first.map { $0 + "//" } ?? ""
        return String((scheme + "…" + url[at...]).prefix(100))
    }
}

extension RedisConfiguration: CustomStringConvertible, CustomReflectable {
    /// The configuration for logs: the endpoint, user and database, never the password.
    public var description: String {
        "redis://\(username.map { "\($0):***@" } ?? (password == nil ? "" : ":***@"))\(endpoint)/\(database)"
    }

    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }
}
