import NIOCore
import Testing

@testable import PortenRedis

/// The decoder and encoder alone, no server: frames split anywhere, malformed and oversized input.
struct RESPDecoderTests {
    static let binary = ByteBuffer(bytes: Array(0...255) + Array("\r\n$3\r\n*1\r\n".utf8))

    static let values: [RESPValue] = [
        .simpleString("OK"),
        .error("ERR wrong number of arguments"),
        .integer(0), .integer(-42), .integer(Int.max), .integer(Int.min + 1),
        .bulkString(ByteBuffer(string: "hello")),
        .bulkString(ByteBuffer()),
        .bulkString(binary),
        .null,
        .nullArray,
        .array([]),
        .array([.integer(1), .bulkString(ByteBuffer(string: "two")), .null, .array([.simpleString("deep"), .array([.array([])])])]),
        .array([.array([.array([.error("nested error")])]), .nullArray, .integer(7)]),
        .simpleString(""),
    ]

    private func frames(_ values: [RESPValue]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for value in values { value.write(to: &buffer) }
        return buffer
    }

    /// Feeds `bytes` in pieces of `step` bytes and collects what decodes.
    private func decode(_ bytes: ByteBuffer, step: Int, limits: RESPDecoder.Limits = .init()) throws -> [RESPValue] {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer()
        var input = bytes
        var decoded: [RESPValue] = []
        while input.readableBytes > 0 {
            var piece = input.readSlice(length: min(step, input.readableBytes))!
            buffer.writeBuffer(&piece)
            while let value = try decoder.decode(buffer: &buffer) { decoded.append(value) }
        }
        #expect(buffer.readableBytes == 0)
        return decoded
    }

    @Test func framesSplitAnywhereDecodeToTheSameValues() throws {
        let bytes = frames(Self.values)
        for step in [1, 2, 3, 7, 64, bytes.readableBytes] {
            #expect(try decode(bytes, step: step) == Self.values, "step \(step)")
        }
    }

    @Test func aFrameIsNotConsumedUntilComplete() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$5\r\nhel")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        buffer.writeString("lo\r\n:1")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        // The finished bulk string was consumed; the integer waits for its CRLF.
        #expect(buffer.readableBytes == 2)
        buffer.writeString("2\r\n+next\r\n")
        #expect(try decoder.decode(buffer: &buffer) == .array([.bulkString(ByteBuffer(string: "hello")), .integer(12)]))
        #expect(try decoder.decode(buffer: &buffer) == .simpleString("next"))
        #expect(try decoder.decode(buffer: &buffer) == nil)
    }

    @Test(arguments: [
        ("?what\r\n", RESPDecodingError.unknownType(UInt8(ascii: "?"))),
        (":12a\r\n", .invalidInteger("12a")),
        (":\r\n", .invalidInteger("")),
        (":+5\r\n", .invalidInteger("+5")),
        (":99999999999999999999\r\n", .invalidInteger("99999999999999999999")),
        ("$-2\r\n", .invalidLength(-2)),
        ("*-5\r\n", .invalidLength(-5)),
        ("$3\r\nabcXY", .missingCRLF),
        ("+OK\rX\r\n", .missingCRLF),
    ])
    func malformedInputThrows(input: String, error: RESPDecodingError) {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: input)
        #expect(throws: error) { try decoder.decode(buffer: &buffer) }
    }

    @Test func limitsOfIntMaxMeanNoLimitWithoutOverflow() throws {
        var decoder = RESPDecoder(limits: .init(maxBulkLength: .max, maxArrayLength: .max, maxDepth: .max, maxLineLength: .max))
        var partial = ByteBuffer(string: "$\(Int.max / 2)\r\nabc")
        #expect(try decoder.decode(buffer: &partial) == nil)
        var complete = ByteBuffer(string: "$3\r\nabc\r\n+OK\r\n")
        #expect(try decoder.decode(buffer: &complete) == .bulkString(ByteBuffer(string: "abc")))
        #expect(try decoder.decode(buffer: &complete) == .simpleString("OK"))
        var huge = ByteBuffer(string: "$\(Int.max)\r\n")
        #expect(throws: RESPDecodingError.self) { try decoder.decode(buffer: &huge) }
    }

    @Test func oversizedInputThrowsBeforeItArrives() {
        let limits = RESPDecoder.Limits(maxBulkLength: 1000, maxArrayLength: 10, maxDepth: 3, maxLineLength: 64)
        func attempt(_ input: String) -> RESPDecodingError? {
            var decoder = RESPDecoder(limits: limits)
            var buffer = ByteBuffer(string: input)
            do {
                while try decoder.decode(buffer: &buffer) != nil {}
                return nil
            } catch {
                return error
            }
        }
        // Only the header has arrived: the declared size alone is refused.
        #expect(attempt("$1001\r\n") == .bulkTooLong(1001, limit: 1000))
        #expect(attempt("$9223372036854775807\r\n") == .bulkTooLong(Int.max, limit: 1000))
        #expect(attempt("*11\r\n") == .arrayTooLong(11, limit: 10))
        #expect(attempt("*1\r\n*1\r\n*1\r\n*1\r\n") == .tooDeep(limit: 3))
        // A line that never ends is refused once it is longer than the limit.
        #expect(attempt("+" + String(repeating: "a", count: 65)) == nil)
        #expect(attempt("+" + String(repeating: "a", count: 66)) == .lineTooLong(limit: 64))
        #expect(attempt("$2000000000000" + String(repeating: "0", count: 60)) == .lineTooLong(limit: 64))
        // At the limits everything decodes.
        #expect(attempt("$1000\r\n" + String(repeating: "x", count: 1000) + "\r\n") == nil)
        #expect(attempt("*1\r\n*1\r\n*1\r\n:1\r\n") == nil)
        #expect(attempt("+" + String(repeating: "a", count: 64) + "\r\n") == nil)
    }

    @Test func commandsAreArraysOfBulkStrings() {
        let command = RESPCommand(["set", "k", ByteBuffer(bytes: [0, 13, 10]), 42, [UInt8](arrayLiteral: 255), "é"])
        #expect(command.name == "SET")
        #expect(Array(command.bytes.readableBytesView) == Array("*6\r\n$3\r\nset\r\n$1\r\nk\r\n$3\r\n\0\r\n\r\n$2\r\n42\r\n$1\r\n".utf8) + [255] + Array("\r\n$2\r\né\r\n".utf8))
        // What the encoder writes, the decoder reads back.
        var decoder = RESPDecoder()
        var bytes = command.bytes
        let decoded = try? decoder.decode(buffer: &bytes)
        #expect(decoded?.array?.count == 6 && decoded?.array?[2] == .bulkString(ByteBuffer(bytes: [0, 13, 10])))
    }
}
