import ArgumentParser
import Foundation

/// A key's policy on the command line; only the options given are sent (`any` clears one).
struct KeyPolicyOptions: ParsableArguments {
    @Option(help: "Comma-separated regions the key may use, e.g. eu or eu,eu-de ('any': no restriction).") var regions: String?
    @Option(help: "Lowest node trust class: community, verified, trusted, confidential ('any': no restriction).") var minTrustClass: String?
    @Flag(inversion: .prefixedNo, help: "Route only to nodes of the key's own account.") var ownNodesOnly: Bool?
    @Option(help: "Comma-separated models the key may use ('any': every offered model).") var models: String?
    @Option(help: "Requests per minute (0: unlimited).") var rpm: Int?
    @Option(help: "Tokens per minute (0: unlimited).") var tpm: Int?

    /// The admin API fields for the options given.
    var fields: [String: Any] {
        var body: [String: Any] = [:]
        if let regions { body["allowed_regions"] = Self.list(regions) }
        if let minTrustClass { body["min_trust_class"] = minTrustClass == "any" ? NSNull() : minTrustClass }
        if let ownNodesOnly { body["own_nodes_only"] = ownNodesOnly }
        if let models { body["model_allowlist"] = Self.list(models) }
        if let rpm { body["requests_per_minute"] = rpm == 0 ? NSNull() : rpm }
        if let tpm { body["tokens_per_minute"] = tpm == 0 ? NSNull() : tpm }
        return body
    }

    private static func list(_ text: String) -> Any {
        text == "any" ? NSNull() : text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
