import Hummingbird
import OpenAIWire

/// The warm-up budget of one request: the Hub's, or less if `X-Porten-Warmup-Budget` asks.
enum WarmupBudget {
    static func of(_ request: Request, hubBudget: Duration) throws(APIError) -> Duration {
        guard let value = request.headers[.portenWarmupBudget] else { return hubBudget }
        guard let budget = HeaderSeconds.parse(value, limit: hubBudget) else {
            throw .invalidRequest(
                "The X-Porten-Warmup-Budget header must be a decimal number of seconds, 0 or more (0: don't wait for a cold model); got '\(value.prefix(64))'.",
                code: "invalid_header_value")
        }
        return budget
    }
}
