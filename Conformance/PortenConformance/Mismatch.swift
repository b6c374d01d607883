/// One difference between a golden and what the target sent, located by JSON pointer.
public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
    /// RFC 6901 pointer into the compared document (`/choices/0/delta/content`).
    public var pointer: String
    public var expected: String
    public var actual: String
    public var reason: String

    public init(pointer: String, expected: String, actual: String, reason: String) {
        self.pointer = pointer
        self.expected = expected
        self.actual = actual
        self.reason = reason
    }

    public var description: String {
        "\(pointer.isEmpty ? "/" : pointer): \(reason) (expected \(expected), got \(actual))"
    }
}
