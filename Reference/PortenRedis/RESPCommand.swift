import NIOCore

/// Something that can be one argument of a Redis command: sent as a binary-safe bulk string.
public protocol RedisArgument: Sendable {
    /// Appends `$<length>\r\n<bytes>\r\n`.
    func writeBulkString(to buffer: inout ByteBuffer)
}

extension String: RedisArgument {
    public func writeBulkString(to buffer: inout ByteBuffer) {
        buffer.writeLine("$", String(utf8.count))
        buffer.writeString(self)
        buffer.writeStaticString("\r\n")
    }
}

extension Substring: RedisArgument {
    public func writeBulkString(to buffer: inout ByteBuffer) {
        String(self).writeBulkString(to: &buffer)
    }
}

extension Int: RedisArgument {
    public func writeBulkString(to buffer: inout ByteBuffer) {
        String(self).writeBulkString(to: &buffer)
    }
}

extension ByteBuffer: RedisArgument {
    public func writeBulkString(to buffer: inout ByteBuffer) {
        var bytes = self
        buffer.writeLine("$", String(bytes.readableBytes))
        buffer.writeBuffer(&bytes)
        buffer.writeStaticString("\r\n")
    }
}

extension Array: RedisArgument where Element == UInt8 {
    public func writeBulkString(to buffer: inout ByteBuffer) {
        buffer.writeLine("$", String(count))
        buffer.writeBytes(self)
        buffer.writeStaticString("\r\n")
    }
}

/// One command encoded as the server reads it: an array of bulk strings. Only the name is kept
/// apart, for error messages; arguments (values, passwords) never reach a message or a log.
struct RESPCommand: Sendable {
    let name: String
    let bytes: ByteBuffer

    init(_ arguments: [any RedisArgument]) {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        var bytes = ByteBuffer()
        bytes.writeLine("*", String(arguments.count))
        for argument in arguments { argument.writeBulkString(to: &bytes) }
        self.bytes = bytes
        self.name = (arguments[0] as? String)?.uppercased() ?? "command"
    }

    init(_ name: String, _ arguments: any RedisArgument...) {
        self.init([name as any RedisArgument] + arguments)
    }
}
