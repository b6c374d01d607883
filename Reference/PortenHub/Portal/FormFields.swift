import Foundation

/// The fields of an `application/x-www-form-urlencoded` body: a name may repeat (checkboxes).
public struct FormFields: Sendable, Equatable {
    public private(set) var pairs: [(String, String)] = []

    public init() {}

    public init(urlEncoded text: String) {
        for part in text.split(separator: "&") where !part.isEmpty {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            pairs.append((Self.decode(pieces[0]), pieces.count > 1 ? Self.decode(pieces[1]) : ""))
        }
    }

    /// The first value of `name`, or nil.
    public subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    /// Every value of `name`, in order.
    public func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    /// The value of `name` trimmed, or nil when absent or blank.
    public func text(_ name: String) -> String? {
        guard let value = self[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    private static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
    }

    public static func == (lhs: FormFields, rhs: FormFields) -> Bool {
        lhs.pairs.elementsEqual(rhs.pairs) { $0 == $1 }
    }
}
