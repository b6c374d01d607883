/// How far the operator vouches for a node, lowest first: `community < verified < trusted < confidential`.
public enum TrustClass: String, Sendable, Codable, CaseIterable, Comparable {
    case community, verified, trusted, confidential

    public static func < (lhs: TrustClass, rhs: TrustClass) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// `'community', 'verified', 'trusted', 'confidential'`, for error messages.
    public static var listed: String { allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ") }
}
