/// Reconnect delays: doubling from ``initial`` up to ``maximum``, back to the start after a
/// session that stayed up for ``resetAfter``. Pure, so the schedule is testable.
public struct Backoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var resetAfter: Duration
    private(set) var failures = 0

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(10), resetAfter: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The delay before the next attempt, given how long the last session lasted.
    public mutating func nextDelay(afterSessionLasting uptime: Duration) -> Duration {
        if uptime >= resetAfter { failures = 0 }
        let delay = min(initial * (1 << min(failures, 20)), maximum)
        failures += 1
        return delay
    }
}
