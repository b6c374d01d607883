/// One difference between a golden and what the target sent, located by JSON pointer.
public struct Mismatch: Sendable, Equatable, CustomStringConvertible {
    /// How much a difference matters.
    public enum Severity: String, Sendable {
        /// Breaks OpenAI's semantics or an official SDK: the case fails.
        case fail
        /// Something the official SDKs tolerate (an additive field, an SSE spelling variant):
        /// listed, but the run still exits 0 unless `--strict`.
        case warn
    }

    /// RFC 6901 pointer into the compared document (`/choices/0/delta/content`).
    public var pointer: String
    public var expected: String
    public var actual: String
    public var reason: String
    public var severity: Severity

    public init(pointer: String, expected: String, actual: String, reason: String, severity: Severity = .fail) {
        self.pointer = pointer
        self.expected = expected
        self.actual = actual
        self.reason = reason
        self.severity = severity
    }

    public var description: String {
        "\(pointer.isEmpty ? "/" : pointer): \(reason) (expected \(expected), got \(actual))"
    }
}
