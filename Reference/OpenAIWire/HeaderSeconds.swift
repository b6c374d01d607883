import Foundation

/// A duration in seconds sent in a header (`X-Porten-Warmup-Budget`), read without trusting it:
/// any finite decimal number ≥ 0 is accepted and capped at `limit`, so `1e300` or
/// `9223372036854775807` mean "as long as allowed" instead of overflowing a conversion.
public enum HeaderSeconds {
    /// The duration `value` names, at most `limit`; nil when it is not a finite number ≥ 0.
    /// Hexadecimal floats (`0x1p70`), `inf` and `nan` are refused: a header is decimal seconds.
    public static func parse(_ value: String, limit: Duration) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        // Only digits, signs, points and exponents get here, so an infinity is a number too big
        // for a Double (`1e400`, five thousand digits): past any limit, like `1e300`.
        guard !text.isEmpty, text.utf8.allSatisfy({ decimalCharacters.contains($0) }), let seconds = Double(text), !seconds.isNaN,
            seconds >= 0
        else { return nil }
        guard seconds < limit / .seconds(1) else { return limit }
        // Below the limit, itself a Duration, so this Duration exists.
        return min(limit, .milliseconds((seconds * 1000).rounded()))
    }

    /// Digits, sign, decimal point and exponent.
    private static let decimalCharacters = Set("0123456789+-.eE".utf8)
}
