/// Token counts of one request. `total_tokens` is always the sum of the other two.
public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    public var completionTokensDetails: CompletionTokensDetails?

    public struct CompletionTokensDetails: Codable, Sendable, Equatable {
        public var reasoningTokens: Int
        public init(reasoningTokens: Int) { self.reasoningTokens = reasoningTokens }
        enum CodingKeys: String, CodingKey { case reasoningTokens = "reasoning_tokens" }
    }

    public init(promptTokens: Int, completionTokens: Int, reasoningTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        // Saturating: the counts may come from an upstream that is not trusted.
        let (sum, overflow) = promptTokens.addingReportingOverflow(completionTokens)
        self.totalTokens = overflow ? (completionTokens > 0 ? .max : .min) : sum
        self.completionTokensDetails = reasoningTokens.map(CompletionTokensDetails.init)
    }

    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
        case completionTokensDetails = "completion_tokens_details"
    }
}
