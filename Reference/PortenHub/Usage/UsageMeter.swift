import Foundation
import NodeProtocol
import OpenAIWire

/// Times one API request and writes its usage row when it ends, whatever the outcome.
struct UsageMeter: Sendable {
    /// What stays the same for the whole request, behind one pointer: a meter is copied into the
    /// async frames of everything that routes and relays the request (and an idle stream holds them).
    private final class Origin: Sendable {
        let recorder: UsageRecorder
        let rateLimiter: RateLimiter
        let metrics: HubMetrics
        let requestID: String
        let endpoint: String
        let key: AuthenticatedKey
        let started = ContinuousClock.now
        let startedAt = Date()

        init(_ services: HubServices, requestID: String, endpoint: String, key: AuthenticatedKey) {
            self.recorder = services.usage
            self.rateLimiter = services.rateLimiter
            self.metrics = services.metrics
            self.requestID = requestID
            self.endpoint = endpoint
            self.key = key
            recorder.meteringStarted()
        }

        deinit { recorder.meteringEnded() }
    }

    private let origin: Origin
    var recorder: UsageRecorder { origin.recorder }
    var rateLimiter: RateLimiter { origin.rateLimiter }
    var metrics: HubMetrics { origin.metrics }
    var requestID: String { origin.requestID }
    var endpoint: String { origin.endpoint }
    var key: AuthenticatedKey { origin.key }
    var started: ContinuousClock.Instant { origin.started }
    var startedAt: Date { origin.startedAt }
    var model: String?
    /// The node that answered, and its region.
    private(set) var nodeID: String?
    private(set) var region: String?
    /// Nodes the request was sent to (failover before the first byte).
    private(set) var attempts = 1
    /// When the answering node got the request: a first token it held dates from no earlier.
    private var sentToNode: ContinuousClock.Instant?
    /// The request's `user` and `metadata`, recorded for abuse tracking (never content).
    var user: String?
    var metadata: [String: String] = [:]
    var firstToken: ContinuousClock.Instant?
    /// The model's price when the request started.
    var price: Price?
    /// What the Hub relayed of the answer: the engine's pieces (one per delta unless it says more,
    /// see ``TunnelMessage/Delta/countedPieces``), and their bytes (text, reasoning, tool calls).
    var relayedDeltas = 0
    var relayedBytes = 0
    /// What the request allows a node to count: prompt tokens at most the context and the body's
    /// bytes, completion tokens at most the context and `max_tokens`.
    var promptLimit = Int.max
    var completionLimit = Int.max
    /// The credit reserved for this request (`--require-credit`), released when it ends.
    var reservation: CreditReservations.Ticket?

    init(_ services: HubServices, requestID: String, endpoint: String, key: AuthenticatedKey) {
        origin = Origin(services, requestID: requestID, endpoint: endpoint, key: key)
    }

    /// Records the node the request was sent to, and how many it took.
    mutating func served(by dispatch: InferenceDispatch) {
        nodeID = dispatch.connection.node.id
        region = dispatch.connection.node.region
        attempts = dispatch.attempts
        sentToNode = dispatch.sent
    }

    /// Counts a delta the Hub relays to the client. The first marks the first token: for an
    /// answer read whole, whose node held it (`held_ms`), that long before now, never before the
    /// node got the request; a streamed token is the client's when the Hub relays it.
    mutating func relayed(_ delta: TunnelMessage.Delta, streamed: Bool = false) {
        if firstToken == nil {
            let held = streamed ? .zero : Duration.milliseconds(delta.heldMS ?? 0)
            firstToken = max(.now - held, sentToNode ?? started)
        }
        relayedDeltas += delta.countedPieces
        relayedBytes += (delta.content?.utf8.count ?? 0) + (delta.reasoningContent?.utf8.count ?? 0)
            + (delta.toolCall.map { ($0.name?.utf8.count ?? 0) + ($0.arguments?.utf8.count ?? 0) } ?? 0)
    }

    /// The node's count, held to what the request and the relayed answer allow: a node cannot bill
    /// more prompt tokens than the context or the body's bytes, nor more completion tokens than
    /// the context, `max_tokens`, or one per byte (and piece) it actually sent.
    func bounded(_ usage: Usage) -> Usage {
        let relayed = relayedBytes + relayedDeltas
        return Usage(
            promptTokens: min(usage.promptTokens, promptLimit), completionTokens: min(usage.completionTokens, completionLimit, relayed),
            reasoningTokens: usage.completionTokensDetails.map { min($0.reasoningTokens, completionLimit, relayed) })
    }

    /// What a request that ended without the node's count (a stream cut by the client or the
    /// node) produced: one completion token per relayed piece; its prompt is not billed.
    private var relayedUsage: Usage? {
        relayedDeltas > 0 ? Usage(promptTokens: 0, completionTokens: min(relayedDeltas, completionLimit)) : nil
    }

    /// Writes the row of a request that ended without an answer worth waiting for (an error, a
    /// client that left); returns at once. Its credit reservation ends once the row is written.
    func finish(status: Int, usage: Usage?, code: String? = nil) {
        let usage = usage.map(bounded) ?? relayedUsage
        if let usage { rateLimiter.record(key, tokens: usage.totalTokens) }
        let row = row(status: status, usage: usage)
        observe(row, code: code)
        recorder.record(row, releasing: reservation)
    }

    private func observe(_ row: UsageRecord, code: String?) {
        metrics.request(
            endpoint: endpoint, model: model, status: row.status, code: code, promptTokens: row.promptTokens, completionTokens: row.completionTokens,
            duration: .now - started, timeToFirstToken: firstToken.map { $0 - started })
    }

    /// Writes the row of an answer about to be acknowledged, and returns once it is durable (then
    /// its credit reservation ends); an answer that could not be metered is not handed out (fail
    /// closed: `503`), and its reservation stays for the caller's ``finish(status:usage:code:)``,
    /// whose row may yet carry a charge.
    @inline(never)  // its frame stays out of its callers' frames (an idle stream holds them)
    func commit(usage: Usage?) async throws(APIError) {
        let usage = usage.map(bounded)
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
        reservation?.release()
        observe(row, code: nil)
    }

    private func row(status: Int, usage: Usage?) -> UsageRecord {
            UsageRecord(
                time: startedAt, requestID: requestID, keyID: key.keyID, accountID: key.accountID, nodeID: nodeID,
                region: region, model: model, endpoint: endpoint, promptTokens: usage?.promptTokens ?? 0,
                completionTokens: usage?.completionTokens ?? 0, status: status, latencyMS: (.now - started).wholeMilliseconds,
                timeToFirstTokenMS: firstToken.map { ($0 - started).wholeMilliseconds }, user: user,
                metadata: metadata.isEmpty ? nil : JSONText.compact(.object(metadata.mapValues(JSONValue.string))),
                attempts: attempts, price: price ?? Price(inputMicrosPerMillion: 0, outputMicrosPerMillion: 0))
    }
}
