import NodeProtocol

/// Where a load stands on the Hub's side: the node's last `progress` frame and when phases began.
public struct LoadProgress: Sendable, Equatable {
    public var phase: TunnelMessage.Progress.Phase
    public var doneMB: Int
    public var totalMB: Int
    /// When the current phase began (the load's start for the first phase).
    public var phaseStartedAt: ContinuousClock.Instant
    /// When the node last said something about the load (its start, then each frame).
    public var lastHeardAt: ContinuousClock.Instant
    /// When the Hub asked for the load.
    public var startedAt: ContinuousClock.Instant

    public init(
        phase: TunnelMessage.Progress.Phase = .downloading, doneMB: Int = 0, totalMB: Int = 0, phaseStartedAt: ContinuousClock.Instant,
        lastHeardAt: ContinuousClock.Instant
    ) {
        self.startedAt = phaseStartedAt
        self.phase = phase
        self.doneMB = doneMB
        self.totalMB = totalMB
        self.phaseStartedAt = phaseStartedAt
        self.lastHeardAt = lastHeardAt
    }

    /// Takes in a `progress` frame received at `now`.
    public mutating func update(_ frame: TunnelMessage.Progress, now: ContinuousClock.Instant) {
        if frame.phase != phase { phaseStartedAt = now }
        lastHeardAt = now
        phase = frame.phase
        doneMB = frame.doneMB
        totalMB = frame.totalMB
    }

    /// Whole percent of the current phase.
    public var percent: Int { totalMB > 0 ? min(100, doneMB * 100 / totalMB) : 0 }

    /// A `Retry-After` for a client that stops waiting now: the time the current phase still needs
    /// at the rate seen so far, plus one second, and as much again for loading while downloading
    /// (a guess; loading is usually faster). Five seconds before any progress; 1…600.
    public func secondsRemaining(now: ContinuousClock.Instant) -> Int {
        let elapsed = (now - phaseStartedAt) / .seconds(1)
        guard doneMB > 0, elapsed > 0 else { return 5 }
        let rate = Double(doneMB) / elapsed
        var remaining = Double(max(0, totalMB - doneMB)) / rate + 1
        if phase == .downloading { remaining *= 2 }
        return Int(min(600, max(1, remaining.rounded(.up))))
    }
}
