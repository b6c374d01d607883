import HTTPTypes
import Hummingbird
import OpenAIWire

/// How long one request may wait: the Hub's budgets, or less where `X-Porten-Warmup-Budget`
/// (for a cold model's load) or `X-Porten-Queue-Budget` (for a slot when every node is busy) asks.
enum RequestBudgets {
    static func of(_ headers: HTTPFields, configuration: HubConfiguration) throws(APIError) -> Routing.Budgets {
        Routing.Budgets(
            warmup: try seconds(headers, .portenWarmupBudget, hub: configuration.warmupBudget, meaning: "don't wait for a cold model"),
            queue: try seconds(headers, .portenQueueBudget, hub: configuration.queueBudget, meaning: "don't wait for a busy node"))
    }

    /// The header's seconds, at most `hub`; the Hub's own budget without the header.
    private static func seconds(_ headers: HTTPFields, _ field: HTTPField.Name, hub: Duration, meaning: String) throws(APIError) -> Duration {
        guard let value = headers[field] else { return hub }
        guard let budget = HeaderSeconds.parse(value, limit: hub) else {
            throw .invalidRequest(
                "The \(field) header must be a decimal number of seconds, 0 or more (0: \(meaning)); got '\(value.prefix(64))'.",
                code: "invalid_header_value")
        }
        return budget
    }
}
