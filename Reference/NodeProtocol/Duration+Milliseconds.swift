extension Duration {
    /// Whole milliseconds, rounded toward zero (`held_ms`, and the Hub's latencies and waits).
    public var wholeMilliseconds: Int {
        Int(components.seconds) * 1000 + Int(components.attoseconds / 1_000_000_000_000_000)
    }
}
