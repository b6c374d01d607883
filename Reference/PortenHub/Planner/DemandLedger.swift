/// Requests per model over a sliding window: every request counts once when it arrives, whether
/// it is then served or not (unmet demand is what makes the planner load a model).
public struct DemandLedger: Sendable {
    public let window: Duration
    private var arrivals: [String: [ContinuousClock.Instant]] = [:]

    public init(window: Duration) { self.window = window }

    public mutating func record(_ model: String, at instant: ContinuousClock.Instant) {
        arrivals[model, default: []].append(instant)
    }

    /// Requests for `model` that arrived within the window ending at `now`.
    public func demand(for model: String, now: ContinuousClock.Instant) -> Int {
        guard let instants = arrivals[model] else { return 0 }
        let start = now - window
        return instants.count { $0 > start }
    }

    /// Every model's demand at `now`, for reports.
    public func snapshot(now: ContinuousClock.Instant) -> [String: Int] {
        arrivals.keys.reduce(into: [:]) { $0[$1] = demand(for: $1, now: now) }.filter { $0.value > 0 }
    }

    /// Forgets arrivals that left the window; call it now and then to bound memory.
    public mutating func prune(now: ContinuousClock.Instant) {
        let start = now - window
        for model in arrivals.keys {
            arrivals[model]!.removeAll { $0 <= start }
            if arrivals[model]!.isEmpty { arrivals[model] = nil }
        }
    }
}
