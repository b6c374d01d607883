import NIOCore

/// One value of the Redis serialization protocol, version 2 (what redis-server speaks unless a
/// client asks for RESP3 with HELLO, which this client never does).
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short status line.
    case simpleString(String)
    /// `-ERR …`: an error reply; commands turn it into ``RedisError/server(_:)``.
    case error(String)
    /// `:42`
    case integer(Int)
    /// `$3 foo`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `$-1`: a missing value (GET of an absent key, SET NX that did not set).
    case null
    /// `*2 …`: values, possibly nested.
    case array([RESPValue])
    /// `*-1`: a missing array (EXEC of an aborted transaction).
    case nullArray

    /// The text of a simple or bulk string (bulk bytes read as UTF-8, invalid sequences repaired).
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes): String(buffer: bytes)
        default: nil
        }
    }

    /// The bytes of a bulk string, or of a simple string's text.
    public var bytes: ByteBuffer? {
        switch self {
        case .bulkString(let bytes): bytes
        case .simpleString(let text): ByteBuffer(string: text)
        default: nil
        }
    }

    /// An integer reply, or a bulk string holding a decimal integer (what Lua scripts often return).
    public var integer: Int? {
        switch self {
        case .integer(let value): value
        case .bulkString(let bytes): Int(String(buffer: bytes))
        default: nil
        }
    }

    public var array: [RESPValue]? {
        if case .array(let values) = self { values } else { nil }
    }

    public var isNull: Bool {
        self == .null || self == .nullArray
    }

    /// Appends the value's wire form.
    public func write(to buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let text):
            buffer.writeLine("+", text)
        case .error(let text):
            buffer.writeLine("-", text)
        case .integer(let value):
            buffer.writeLine(":", String(value))
        case .bulkString(var bytes):
            buffer.writeLine("$", String(bytes.readableBytes))
            buffer.writeBuffer(&bytes)
            buffer.writeStaticString("\r\n")
        case .null:
            buffer.writeStaticString("$-1\r\n")
        case .array(let values):
            buffer.writeLine("*", String(values.count))
            for value in values { value.write(to: &buffer) }
        case .nullArray:
            buffer.writeStaticString("*-1\r\n")
        }
    }

    /// A short description for error messages: the type, and the value when it is small.
    var summary: String {
        switch self {
        case .simpleString(let text): "simple string \"\(text.prefix(40))\""
        case .error(let text): "error \"\(text.prefix(80))\""
        case .integer(let value): "integer \(value)"
        case .bulkString(let bytes): "bulk string of \(bytes.readableBytes) bytes"
        case .null: "null"
        case .array(let values): "array of \(values.count)"
        case .nullArray: "null array"
        }
    }
}

extension ByteBuffer {
    mutating func writeLine(_ type: StaticString, _ text: String) {
        writeStaticString(type)
        writeString(text)
        writeStaticString("\r\n")
    }
}
