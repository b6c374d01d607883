/// A node and a model: the unit of outlier ejection (a node may fail one model and serve others).
struct NodeModel: Hashable, Sendable {
    var node: String
    var model: String
}

/// How a node has been failing one model, and whether it is out of rotation for it.
///
/// ``threshold`` failures in a row eject it for a back-off, doubling from one second to a minute
/// with each ejection; when the back-off ends the node gets traffic again, and one more failure
/// ejects it again at once (a probe), while one success forgets it all.
struct OutlierState: Sendable, Equatable {
    static let threshold = 2
    static let firstBackoff = Duration.seconds(1)
    static let longestBackoff = Duration.seconds(60)

    private(set) var consecutiveFailures = 0
    private(set) var ejectedUntil: ContinuousClock.Instant?
    private(set) var backoff = OutlierState.firstBackoff

    mutating func fail(at time: ContinuousClock.Instant) {
        consecutiveFailures += 1
        guard consecutiveFailures >= Self.threshold else { return }
        ejectedUntil = time + backoff
        backoff = min(backoff * 2, Self.longestBackoff)
    }

    func isEjected(at time: ContinuousClock.Instant) -> Bool {
        ejectedUntil.map { time < $0 } ?? false
    }
}
