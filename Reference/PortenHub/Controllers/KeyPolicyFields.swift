import OpenAIWire

/// Reads a key policy from an admin request body: `allowed_regions`, `min_trust_class`,
/// `own_nodes_only`, `model_allowlist`, `requests_per_minute`, `tokens_per_minute`. A field left
/// out keeps `base`'s value; an explicit `null` clears it.
enum KeyPolicyFields {
    static func parse(_ fields: RequestFields, base: KeyPolicy) throws(APIError) -> KeyPolicy {
        var policy = base
        if fields.members["allowed_regions"] != nil {
            policy.allowedRegions = try list(fields, "allowed_regions")
            for region in policy.allowedRegions ?? [] { try AdminController.checkRegion(region, param: "allowed_regions") }
        }
        if fields.members["min_trust_class"] != nil {
            policy.minTrustClass = try fields.oneOf("min_trust_class", TrustClass.allCases.map(\.rawValue)).flatMap(TrustClass.init(rawValue:))
        }
        if fields.members["own_nodes_only"] != nil { policy.ownNodesOnly = try fields.bool("own_nodes_only") ?? false }
        if fields.members["model_allowlist"] != nil { policy.modelAllowlist = try list(fields, "model_allowlist") }
        if fields.members["requests_per_minute"] != nil { policy.requestsPerMinute = try fields.int("requests_per_minute", in: 1...1_000_000) }
        if fields.members["tokens_per_minute"] != nil { policy.tokensPerMinute = try fields.int("tokens_per_minute", in: 1...1_000_000_000) }
        return policy
    }

    /// The most entries of a region list or model allow-list.
    static let maximumListLength = 256

    /// A non-empty array of at most 256 non-empty strings, repeats dropped; nil for `null`.
    private static func list(_ fields: RequestFields, _ key: String) throws(APIError) -> [String]? {
        guard let values = try fields.array(key) else { return nil }
        let strings = values.compactMap(\.stringValue).filter { !$0.isEmpty }
        guard !values.isEmpty, strings.count == values.count, values.count <= maximumListLength else {
            throw .invalidRequest(
                "Invalid '\(key)': expected a non-empty array of at most \(maximumListLength) non-empty strings, or null for no restriction.",
                param: key)
        }
        var seen = Set<String>()
        return strings.filter { seen.insert($0).inserted }
    }
}
