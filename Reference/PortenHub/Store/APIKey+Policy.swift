import Foundation

extension APIKey {
    /// The key's policy, from its columns (lists are stored as JSON arrays). A column that cannot
    /// be read (edited by hand, written by a newer Hub) restricts rather than lifts: a list reads
    /// as empty (nothing allowed), a trust class as the highest.
    public var policy: KeyPolicy {
        get {
            KeyPolicy(
                allowedRegions: allowedRegions.map(Self.decodeList), minTrustClass: minTrustClass.map { TrustClass(rawValue: $0) ?? .confidential },
                ownNodesOnly: ownNodesOnly, modelAllowlist: modelAllowlist.map(Self.decodeList), requestsPerMinute: requestsPerMinute,
                tokensPerMinute: tokensPerMinute)
        }
        set {
            allowedRegions = newValue.allowedRegions.map(Self.encodeList)
            minTrustClass = newValue.minTrustClass?.rawValue
            ownNodesOnly = newValue.ownNodesOnly
            modelAllowlist = newValue.modelAllowlist.map(Self.encodeList)
            requestsPerMinute = newValue.requestsPerMinute
            tokensPerMinute = newValue.tokensPerMinute
        }
    }

    private static func decodeList(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    private static func encodeList(_ list: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(list)) ?? Data("[]".utf8), as: UTF8.self)
    }
}
