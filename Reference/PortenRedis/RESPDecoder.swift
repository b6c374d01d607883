import NIOCore

/// Decodes RESP2 replies as bytes arrive. Scalars are consumed only once complete; arrays are built
/// on a stack, so a reply split anywhere (even byte by byte) decodes in time linear in its size.
/// Declared sizes are checked against ``Limits`` before anything waits for or stores the bytes.
public struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    public struct Limits: Sendable, Hashable {
        /// The longest bulk string accepted (redis-server's own default cap is 512 MB).
        public var maxBulkLength: Int
        /// The most elements one array may declare.
        public var maxArrayLength: Int
        /// How deeply arrays may nest (1: an array of scalars).
        public var maxDepth: Int
        /// The longest simple string, error or length line.
        public var maxLineLength: Int

        public init(maxBulkLength: Int = 64 << 20, maxArrayLength: Int = 1 << 20, maxDepth: Int = 16, maxLineLength: Int = 64 << 10) {
            self.maxBulkLength = maxBulkLength
            self.maxArrayLength = maxArrayLength
            self.maxDepth = maxDepth
            self.maxLineLength = maxLineLength
        }
    }

    public let limits: Limits
    /// Arrays begun but not complete: how many elements each still needs, and those it has.
    private var open: [(remaining: Int, elements: [RESPValue])] = []

    public init(limits: Limits = .init()) {
        // "No limit" written as Int.max must not overflow the decoder's `length + 2` arithmetic.
        var limits = limits
        limits.maxBulkLength = min(limits.maxBulkLength, Int.max / 2)
        limits.maxLineLength = min(limits.maxLineLength, Int.max / 2)
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws(RESPDecodingError) -> RESPValue? {
        while true {
            guard let item = try nextItem(&buffer) else { return nil }
            var complete: RESPValue
            switch item {
            case .value(let value):
                complete = value
            case .arrayHeader(let count):
                guard open.count < limits.maxDepth else { throw .tooDeep(limit: limits.maxDepth) }
                guard count > 0 else {
                    complete = .array([])
                    break
                }
                open.append((count, []))
                open[open.count - 1].elements.reserveCapacity(min(count, 1024))
                continue
            }
            // Fold the complete value into the arrays it closes.
            while !open.isEmpty {
                let last = open.count - 1
                open[last].elements.append(complete)
                open[last].remaining -= 1
                guard open[last].remaining == 0 else { break }
                complete = .array(open.removeLast().elements)
            }
            if open.isEmpty { return complete }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws(RESPDecodingError) -> RESPValue? {
        try decode(buffer: &buffer)
    }

    private enum Item {
        case value(RESPValue)
        case arrayHeader(Int)
    }

    /// A complete scalar or array header at the reader index, consumed; nil (nothing consumed) when
    /// its bytes have not all arrived.
    private func nextItem(_ buffer: inout ByteBuffer) throws(RESPDecodingError) -> Item? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        let start = buffer.readerIndex + 1
        guard let lineEnd = try lineEnd(in: buffer, from: start) else { return nil }
        let line = buffer.getSlice(at: start, length: lineEnd - start)!
        let afterLine = lineEnd + 2
        switch type {
        case UInt8(ascii: "+"):
            buffer.moveReaderIndex(to: afterLine)
            return .value(.simpleString(String(buffer: line)))
        case UInt8(ascii: "-"):
            buffer.moveReaderIndex(to: afterLine)
            return .value(.error(String(buffer: line)))
        case UInt8(ascii: ":"):
            let value = try Self.integer(line)
            buffer.moveReaderIndex(to: afterLine)
            return .value(.integer(value))
        case UInt8(ascii: "$"):
            let length = try Self.integer(line)
            if length == -1 {
                buffer.moveReaderIndex(to: afterLine)
                return .value(.null)
            }
            guard length >= 0 else { throw .invalidLength(length) }
            guard length <= limits.maxBulkLength else { throw .bulkTooLong(length, limit: limits.maxBulkLength) }
            guard buffer.writerIndex - afterLine >= length + 2 else { return nil }
            guard buffer.getInteger(at: afterLine + length, as: UInt16.self) == Self.crlf else { throw .missingCRLF }
            let bytes = buffer.getSlice(at: afterLine, length: length)!
            buffer.moveReaderIndex(to: afterLine + length + 2)
            return .value(.bulkString(bytes))
        case UInt8(ascii: "*"):
            let count = try Self.integer(line)
            if count == -1 {
                buffer.moveReaderIndex(to: afterLine)
                return .value(.nullArray)
            }
            guard count >= 0 else { throw .invalidLength(count) }
            guard count <= limits.maxArrayLength else { throw .arrayTooLong(count, limit: limits.maxArrayLength) }
            buffer.moveReaderIndex(to: afterLine)
            return .arrayHeader(count)
        default:
            throw .unknownType(type)
        }
    }

    /// "\r\n" read as a big-endian UInt16.
    private static let crlf: UInt16 = 0x0D0A

    /// Where the CRLF ending the line that starts at `start` is, nil while it has not arrived.
    private func lineEnd(in buffer: ByteBuffer, from start: Int) throws(RESPDecodingError) -> Int? {
        let available = buffer.writerIndex - start
        let searched = min(available, limits.maxLineLength + 2)
        let found: Int? = buffer.withUnsafeReadableBytes { bytes in
            let offset = start - buffer.readerIndex
            var index = offset
            while index + 1 < offset + searched {
                if bytes[index] == UInt8(ascii: "\r") {
                    guard bytes[index + 1] == UInt8(ascii: "\n") else { return -1 }
                    return index - offset
                }
                index += 1
            }
            return nil
        }
        switch found {
        case .some(-1): throw .missingCRLF
        case let length?: return start + length
        case nil:
            guard available <= limits.maxLineLength + 1 else { throw .lineTooLong(limit: limits.maxLineLength) }
            return nil
        }
    }

    /// A strict decimal: an optional minus and 1 to 19 digits, nothing else.
    private static func integer(_ line: ByteBuffer) throws(RESPDecodingError) -> Int {
        let text = String(buffer: line)
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        guard !digits.isEmpty, digits.count <= 19, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let value = Int(text)
        else { throw .invalidInteger(String(text.prefix(40))) }
        return value
    }
}

/// Why bytes from the server are not RESP, or exceed the decoder's limits. The connection that
/// received them is closed; its pending commands fail with ``RedisError/protocolError(_:)``.
public enum RESPDecodingError: Error, Hashable, CustomStringConvertible {
    case unknownType(UInt8)
    case invalidInteger(String)
    case invalidLength(Int)
    case missingCRLF
    case bulkTooLong(Int, limit: Int)
    case arrayTooLong(Int, limit: Int)
    case tooDeep(limit: Int)
    case lineTooLong(limit: Int)

    public var description: String {
        switch self {
        case .unknownType(let byte): "unknown RESP type byte 0x\(String(byte, radix: 16))"
        case .invalidInteger(let text): "invalid RESP integer \"\(text)\""
        case .invalidLength(let length): "invalid RESP length \(length)"
        case .missingCRLF: "RESP value not terminated by CRLF"
        case .bulkTooLong(let length, let limit): "bulk string of \(length) bytes exceeds the limit of \(limit)"
        case .arrayTooLong(let count, let limit): "array of \(count) elements exceeds the limit of \(limit)"
        case .tooDeep(let limit): "arrays nested deeper than \(limit)"
        case .lineTooLong(let limit): "RESP line longer than \(limit) bytes"
        }
    }
}
