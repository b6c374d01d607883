import HTTPTypes

extension HTTPField.Name {
    static let requestID = Self("X-Request-Id")!
    static let portenNode = Self("X-Porten-Node")!
    /// Between replicas: their shared token, the forwarding replica's request id, and (to the
    /// client) which replica ran a forwarded request.
    static let portenReplicaToken = Self("X-Porten-Replica-Token")!
    static let portenForwardedRequestID = Self("X-Porten-Forwarded-Request-Id")!
    static let portenReplica = Self("X-Porten-Replica")!
    /// The region of the node that served the request: proof of where it ran.
    static let portenRegion = Self("X-Porten-Region")!
    /// Seconds a request may wait for a cold model to load (0: don't wait); capped by the Hub's budget.
    static let portenWarmupBudget = Self("X-Porten-Warmup-Budget")!
    /// Seconds a request may wait for a slot when every node is busy (0: don't wait); capped by the Hub's budget.
    static let portenQueueBudget = Self("X-Porten-Queue-Budget")!
}
