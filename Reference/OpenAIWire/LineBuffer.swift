/// Splits a byte stream into `\n`-terminated lines as the bytes arrive, in time linear in the
/// input: lines are read at an index, and the consumed bytes dropped once per feed (removing each
/// line from the front would copy the rest of the buffer for every line).
public struct LineBuffer: Sendable {
    private var buffer: [UInt8] = []

    public init() {}

    /// Appends `bytes` and returns every line they complete, without the `\n` (a `\r` before it stays).
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ArraySlice<UInt8>] {
        let searchFrom = buffer.count
        buffer.append(contentsOf: bytes)
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var index = searchFrom
        while let newline = buffer[index...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(buffer[start..<newline])
            start = newline + 1
            index = start
        }
        // The returned slices keep their own copy: this copies the buffer once per feed, not per line.
        if start > 0 { buffer.removeFirst(start) }
        return lines
    }
}
