/// The verdict on one golden case, layer by layer.
public struct CaseResult: Sendable {
    public enum Verdict: String, Sendable {
        case pass, fail, skip
        /// Differs only where the profile declares a divergence.
        case declared = "declared divergence"
    }

    public struct Layer: Sendable {
        /// `transport`, `status`, `headers`, `body`, `framing`, `invariants`, `events` or `reassembled`.
        public var name: String
        public var failures: [Mismatch]
        public var declared: [(Mismatch, String)]

        public var verdict: Verdict { !failures.isEmpty ? .fail : declared.isEmpty ? .pass : .declared }
    }

    public var id: String
    public var file: String
    public var layers: [Layer]
    /// Why the case did not run.
    public var skipReason: String?
    public var seconds: Double

    public var verdict: Verdict {
        if skipReason != nil { return .skip }
        if layers.contains(where: { $0.verdict == .fail }) { return .fail }
        return layers.contains(where: { $0.verdict == .declared }) ? .declared : .pass
    }
}
