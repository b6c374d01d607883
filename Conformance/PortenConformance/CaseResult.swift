/// The verdict on one golden case, layer by layer.
public struct CaseResult: Sendable {
    public enum Verdict: String, Sendable {
        case pass, fail, skip
        /// Passes, with differences the SDKs tolerate (additive fields, SSE variants).
        case warn = "warning"
        /// Differs only where the profile declares a divergence.
        case declared = "declared divergence"
    }

    public struct Layer: Sendable {
        /// `transport`, `status`, `headers`, `body`, `framing`, `invariants`, `events`,
        /// `reassembled` or `semantics`.
        public var name: String
        public var failures: [Mismatch]
        public var warnings: [Mismatch] = []
        public var declared: [(Mismatch, String)]

        public init(name: String, failures: [Mismatch] = [], warnings: [Mismatch] = [], declared: [(Mismatch, String)] = []) {
            self.name = name
            self.failures = failures
            self.warnings = warnings
            self.declared = declared
        }

        public var verdict: Verdict {
            if !failures.isEmpty { return .fail }
            if !warnings.isEmpty { return .warn }
            return declared.isEmpty ? .pass : .declared
        }
    }

    public var id: String
    public var file: String
    public var layers: [Layer]
    /// Why the case did not run.
    public var skipReason: String?
    public var seconds: Double
    /// What the run observed that is neither a failure nor a warning (which reasoning field the
    /// target used, which of a golden's alternatives it matched).
    public var notes: [String] = []

    public var verdict: Verdict {
        if skipReason != nil { return .skip }
        for verdict in [Verdict.fail, .warn, .declared] where layers.contains(where: { $0.verdict == verdict }) { return verdict }
        return .pass
    }
}
