import Prometheus
import Synchronization

/// The Hub's Prometheus metrics (`GET /metrics`, docs/metrics.md). Labels are bounded: model ids
/// of the catalog (anything else is `other`), statuses, error codes, regions, trust classes and
/// node ids. Never a prompt, a key, a user or an account.
public final class HubMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let catalogModels: Set<String>
    /// Label sets of the fleet gauges seen so far, zeroed when they disappear.
    private let fleetLabels = Mutex<(groups: Set<[String]>, nodes: Set<String>)>(([], []))

    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300),
    ]

    public init(catalog: Catalog) { catalogModels = Set(catalog.models.map(\.id)) }

    /// A model id as a label: a catalog id, else `other` (a client's typo must not grow the label set).
    func model(_ id: String?) -> String {
        guard let id else { return "none" }
        return catalogModels.contains(id) ? id : "other"
    }

    private func descriptor(_ name: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "porten", metricName: name, unitName: unit, helpText: help)
    }

    // MARK: Replicas

    /// Whether Redis answers (`--redis-url`); nil without Redis leaves the gauge out.
    func redisUp(_ up: Bool?) {
        guard let up else { return }
        registry.makeGauge(
            descriptor: descriptor("redis_up", unit: "", "1 while Redis answers; 0 while rate limits fall back to each replica's own count.")
        ).set(to: up ? 1 : 0)
    }

    // MARK: Requests

    /// The error codes the Hub itself answers; anything else (a node's own code) is `other`, so
    /// a node cannot grow the label set or write its text into the metrics.
    static let knownCodes: Set<String> = [
        "invalid_api_key", "model_not_found", "model_not_allowed", "model_not_supported", "rate_limit_exceeded", "insufficient_quota",
        "no_available_node", "model_warming", "node_error", "gateway_timeout", "usage_unavailable", "request_too_large", "internal_error",
        "missing_required_parameter", "unsupported_parameter", "empty_array", "invalid_value", "invalid_type", "integer_above_max_value",
        "integer_below_min_value", "decimal_above_max_value", "decimal_below_min_value", "context_length_exceeded", "image_url_not_supported",
        "invalid_header_value",
    ]

    /// One finished API request: its outcome, tokens and timings.
    func request(
        endpoint: String, model: String?, status: Int, code: String?, promptTokens: Int, completionTokens: Int, duration: Duration,
        timeToFirstToken: Duration?
    ) {
        let labels = RequestLabels(endpoint: endpoint, model: self.model(model), status: status, code: code.map { Self.knownCodes.contains($0) ? $0 : "other" } ?? "")
        var handles = requestHandles.withLock { $0[labels] }
        let input = promptTokens > 0, output = completionTokens > 0, firstToken = timeToFirstToken != nil
        if handles == nil || (input && handles?.inputTokens == nil) || (output && handles?.outputTokens == nil)
            || (firstToken && handles?.timeToFirstToken == nil)
        {
            handles = makeRequestHandles(labels, input: input, output: output, firstToken: firstToken)
        }
        guard let handles else { return }
        handles.requests.increment()
        if input { handles.inputTokens?.increment(by: Int64(promptTokens)) }
        if output { handles.outputTokens?.increment(by: Int64(completionTokens)) }
        handles.duration.record(duration)
        if let timeToFirstToken { handles.timeToFirstToken?.record(timeToFirstToken) }
    }

    /// What labels one request's metrics.
    private struct RequestLabels: Hashable {
        var endpoint: String
        var model: String
        var status: Int
        var code: String
    }

    /// The metrics one request's labels select, looked up in the registry once per label set
    /// (the set is bounded: catalog models, statuses, known codes). Token counters and the
    /// first-token histogram are made when first needed, so a series appears with its first value.
    private struct RequestHandles: Sendable {
        var requests: Counter
        var duration: DurationHistogram
        var inputTokens: Counter?
        var outputTokens: Counter?
        var timeToFirstToken: DurationHistogram?
    }

    private let requestHandles = Mutex<[RequestLabels: RequestHandles]>([:])

    private func makeRequestHandles(_ labels: RequestLabels, input: Bool, output: Bool, firstToken: Bool) -> RequestHandles {
        let tokens = descriptor("tokens", unit: "total", "Tokens metered, by model and direction (input: prompt, output: completion).")
        var handles = RequestHandles(
            requests: registry.makeCounter(
                descriptor: descriptor("requests", unit: "total", "API requests by endpoint, model, HTTP status and error code."),
                labels: [("endpoint", labels.endpoint), ("model", labels.model), ("status", String(labels.status)), ("code", labels.code)]),
            duration: registry.makeDurationHistogram(
                descriptor: descriptor("request_duration", unit: "seconds", "From the request's arrival to its last byte."),
                labels: [("endpoint", labels.endpoint), ("model", labels.model)], buckets: Self.latencyBuckets))
        let known = requestHandles.withLock { $0[labels] }
        if input || known?.inputTokens != nil {
            handles.inputTokens = registry.makeCounter(descriptor: tokens, labels: [("model", labels.model), ("direction", "input")])
        }
        if output || known?.outputTokens != nil {
            handles.outputTokens = registry.makeCounter(descriptor: tokens, labels: [("model", labels.model), ("direction", "output")])
        }
        if firstToken || known?.timeToFirstToken != nil {
            handles.timeToFirstToken = registry.makeDurationHistogram(
                descriptor: descriptor("time_to_first_token", unit: "seconds", "From the request's arrival to its first token."),
                labels: [("model", labels.model)], buckets: Self.latencyBuckets)
        }
        requestHandles.withLock { $0[labels] = handles }
        return handles
    }

    /// Time a request spent in a model's admission queue (`queue`) or waiting for its load (`warmup`).
    func waited(_ kind: String, model: String, _ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: descriptor("admission_wait", unit: "seconds", "Time requests waited for a free slot (queue) or a model load (warmup)."),
            labels: [("model", self.model(model)), ("wait", kind)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    // MARK: Loads

    func loadStarted(_ model: String) {
        registry.makeCounter(descriptor: descriptor("loads_started", unit: "total", "Model loads the Hub asked nodes for."), labels: [("model", self.model(model))])
            .increment()
    }

    /// A load the Hub asked for because the model's queue waited too long (a replica).
    func replicaStarted(_ model: String) {
        registry.makeCounter(
            descriptor: descriptor("replicas_started", unit: "total", "Replica loads the Hub asked for because a model's queue kept waiting."),
            labels: [("model", self.model(model))]
        ).increment()
    }

    func loadFinished(_ model: String, after duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: descriptor("load_duration", unit: "seconds", "From asking a node to load a model to it being ready (download and load)."),
            labels: [("model", self.model(model))], buckets: Self.latencyBuckets
        ).record(duration)
    }

    func loadFailed(_ model: String) {
        registry.makeCounter(descriptor: descriptor("loads_failed", unit: "total", "Model loads that failed or went silent."), labels: [("model", self.model(model))])
            .increment()
    }

    /// A model unloaded by the Hub: to make room for a demanded one (`demand`) or idle for a demand window (`idle`).
    func evicted(_ model: String, reason: String) {
        registry.makeCounter(descriptor: descriptor("evictions", unit: "total", "Models the Hub unloaded, by reason."), labels: [("model", self.model(model)), ("reason", reason)])
            .increment()
    }

    // MARK: Fleet (set at scrape time)

    /// Sets the fleet gauges from the registry's snapshot.
    func fleet(_ nodes: [FleetNode]) {
        var groups: [[String]: Int] = [:]
        for node in nodes { groups[[node.region, node.trustClass.rawValue], default: 0] += 1 }
        let connected = descriptor("nodes_connected", unit: "", "Nodes connected, by region and trust class.")
        let inFlight = descriptor("node_in_flight", unit: "requests", "Requests running on each connected node.")
        let (staleGroups, staleNodes) = fleetLabels.withLock { labels in
            let stale = (labels.groups.subtracting(groups.keys), labels.nodes.subtracting(nodes.map(\.id)))
            labels.groups.formUnion(groups.keys)
            labels.nodes.formUnion(nodes.map(\.id))
            return stale
        }
        for group in staleGroups { registry.makeGauge(descriptor: connected, labels: [("region", group[0]), ("trust_class", group[1])]).set(to: 0) }
        for node in staleNodes { registry.makeGauge(descriptor: inFlight, labels: [("node", node)]).set(to: 0) }
        for (group, count) in groups { registry.makeGauge(descriptor: connected, labels: [("region", group[0]), ("trust_class", group[1])]).set(to: Double(count)) }
        for node in nodes { registry.makeGauge(descriptor: inFlight, labels: [("node", node.id)]).set(to: Double(node.inFlight)) }
    }
}
