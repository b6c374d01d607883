import Hummingbird
import OpenAIWire

/// The warm-up budget of one request: the Hub's, or less if `X-Porten-Warmup-Budget` asks.
enum WarmupBudget {
    static func of(_ request: Request, hubBudget: Duration) throws(APIError) -> Duration {
        guard let value = request.headers[.portenWarmupBudget] else { return hubBudget }
        guard let seconds = Double(value.trimmingCharacters(in: .whitespaces)), seconds.isFinite, seconds >= 0 else {
            throw .invalidRequest(
                "The X-Porten-Warmup-Budget header must be a number of seconds, 0 or more (0: don't wait for a cold model); got '\(value)'.",
                code: "invalid_header_value")
        }
        return min(hubBudget, .milliseconds(Int64((seconds * 1000).rounded())))
    }
}
