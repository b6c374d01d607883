import Foundation
import OpenAIWire

/// Times one API request and writes its usage row when it ends, whatever the outcome.
struct UsageMeter: Sendable {
    let recorder: UsageRecorder
    let rateLimiter: RateLimiter
    let metrics: HubMetrics
    let requestID: String
    let endpoint: String
    let key: AuthenticatedKey
    let started = ContinuousClock.now
    let startedAt = Date()
    var model: String?
    var node: NodeRecord?
    /// Nodes the request was sent to (failover before the first byte).
    var attempts = 1
    /// The request's `user` and `metadata`, recorded for abuse tracking (never content).
    var user: String?
    var metadata: [String: String] = [:]
    var firstToken: ContinuousClock.Instant?
    /// The model's price when the request started.
    var price: Price?

    init(_ services: HubServices, requestID: String, endpoint: String, key: AuthenticatedKey) {
        self.recorder = services.usage
        self.rateLimiter = services.rateLimiter
        self.metrics = services.metrics
        self.requestID = requestID
        self.endpoint = endpoint
        self.key = key
    }

    mutating func markFirstToken() {
        if firstToken == nil { firstToken = .now }
    }

    /// Writes the row of a request that ended without an answer worth waiting for (an error, a
    /// client that left); returns at once.
    func finish(status: Int, usage: Usage?, code: String? = nil) {
        if let usage { rateLimiter.record(key, tokens: usage.totalTokens) }
        let row = row(status: status, usage: usage)
        observe(row, code: code)
        recorder.record(row)
    }

    private func observe(_ row: UsageRecord, code: String?) {
        metrics.request(
            endpoint: endpoint, model: model, status: row.status, code: code, promptTokens: row.promptTokens, completionTokens: row.completionTokens,
            duration: .now - started, timeToFirstToken: firstToken.map { $0 - started })
    }

    /// Writes the row of an answer about to be acknowledged, and returns once it is durable; an
    /// answer that could not be metered is not handed out (fail closed: `503`).
    func commit(usage: Usage?) async throws(APIError) {
        if let usage { rateLimiter.record(key, tokens: usage.totalTokens) }
        let row = row(status: 200, usage: usage)
        guard await recorder.commit(row) else {
            observe(UsageRecord(
                time: row.time, requestID: row.requestID, keyID: nil, accountID: nil, nodeID: nil, region: nil, model: model, endpoint: endpoint,
                promptTokens: 0, completionTokens: 0, status: 503, latencyMS: 0, timeToFirstTokenMS: nil), code: "usage_unavailable")
            throw APIError(
                status: 503, message: "The Hub could not record this request's usage, so it withholds the answer; retry shortly.",
                type: "service_unavailable", code: "usage_unavailable", retryAfter: 5)
        }
        observe(row, code: nil)
    }

    private func row(status: Int, usage: Usage?) -> UsageRecord {
            UsageRecord(
                time: startedAt, requestID: requestID, keyID: key.keyID, accountID: key.accountID, nodeID: node?.id,
                region: node?.region, model: model, endpoint: endpoint, promptTokens: usage?.promptTokens ?? 0,
                completionTokens: usage?.completionTokens ?? 0, status: status, latencyMS: Self.milliseconds(.now - started),
                timeToFirstTokenMS: firstToken.map { Self.milliseconds($0 - started) }, user: user,
                metadata: metadata.isEmpty ? nil : JSONText.compact(.object(metadata.mapValues(JSONValue.string))),
                attempts: attempts, price: price ?? Price(inputMicrosPerMillion: 0, outputMicrosPerMillion: 0))
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }
}
