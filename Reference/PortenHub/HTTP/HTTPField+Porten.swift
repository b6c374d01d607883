import HTTPTypes

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let portenNode = Self("X-Porten-Node")!
    /// Seconds a request may wait for a cold model to load (0: don't wait); capped by the Hub's budget.
    static let portenWarmupBudget = Self("X-Porten-Warmup-Budget")!
}
