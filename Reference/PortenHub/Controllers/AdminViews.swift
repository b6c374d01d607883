import Foundation

/// What the admin API shows of stored rows: never a hash, and a secret only on creation.
enum AdminViews {
    struct List<Item: Encodable>: Encodable {
        var object = "list"
        var data: [Item]
    }

    struct AccountView: Encodable {
        var id: String
        var name: String
        var createdAt: Date
        var disabledAt: Date?

        init(_ account: Account) {
            id = account.id
            name = account.name
            createdAt = account.createdAt
            disabledAt = account.disabledAt
        }

        enum CodingKeys: String, CodingKey { case id, name, createdAt = "created_at", disabledAt = "disabled_at" }
    }

    struct UserView: Encodable {
        var id: String
        var accountID: String
        var email: String
        var displayName: String
        var role: String
        var isOperator: Bool
        var hasPassword: Bool
        var createdAt: Date
        var disabledAt: Date?
        /// The one-time link to set the password: only in the response that created the user.
        var setPasswordURL: String?

        init(_ user: User, setPasswordURL: String? = nil) {
            id = user.id
            accountID = user.accountID
            email = user.email
            displayName = user.displayName
            role = user.role.rawValue
            isOperator = user.isOperator
            hasPassword = user.passwordHash != nil
            createdAt = user.createdAt
            disabledAt = user.disabledAt
            self.setPasswordURL = setPasswordURL
        }

        enum CodingKeys: String, CodingKey {
            case id, email, role
            case accountID = "account_id", displayName = "display_name", isOperator = "operator", hasPassword = "has_password"
            case createdAt = "created_at", disabledAt = "disabled_at", setPasswordURL = "set_password_url"
        }
    }

    struct KeyView: Encodable {
        var id: String
        var accountID: String
        var name: String
        var displayPrefix: String
        var createdAt: Date
        var revokedAt: Date?
        var allowedRegions: [String]?
        var minTrustClass: String?
        var ownNodesOnly: Bool
        var modelAllowlist: [String]?
        var requestsPerMinute: Int?
        var tokensPerMinute: Int?
        /// The plain key: set only in the response that created it.
        var key: String?

        init(_ key: APIKey, plain: String? = nil) {
            let policy = key.policy
            allowedRegions = policy.allowedRegions
            minTrustClass = policy.minTrustClass?.rawValue
            ownNodesOnly = policy.ownNodesOnly
            modelAllowlist = policy.modelAllowlist
            requestsPerMinute = policy.requestsPerMinute
            tokensPerMinute = policy.tokensPerMinute
            id = key.id
            accountID = key.accountID
            name = key.name
            displayPrefix = key.displayPrefix
            createdAt = key.createdAt
            revokedAt = key.revokedAt
            self.key = plain
        }

        enum CodingKeys: String, CodingKey {
            case id, name, key
            case accountID = "account_id", displayPrefix = "display_prefix", createdAt = "created_at", revokedAt = "revoked_at"
            case allowedRegions = "allowed_regions", minTrustClass = "min_trust_class", ownNodesOnly = "own_nodes_only"
            case modelAllowlist = "model_allowlist", requestsPerMinute = "requests_per_minute", tokensPerMinute = "tokens_per_minute"
        }

        /// Policy fields are always present (null: no restriction), so operators see every constraint.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(accountID, forKey: .accountID)
            try container.encode(name, forKey: .name)
            try container.encode(displayPrefix, forKey: .displayPrefix)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(revokedAt, forKey: .revokedAt)
            try container.encode(allowedRegions, forKey: .allowedRegions)
            try container.encode(minTrustClass, forKey: .minTrustClass)
            try container.encode(ownNodesOnly, forKey: .ownNodesOnly)
            try container.encode(modelAllowlist, forKey: .modelAllowlist)
            try container.encode(requestsPerMinute, forKey: .requestsPerMinute)
            try container.encode(tokensPerMinute, forKey: .tokensPerMinute)
            try container.encodeIfPresent(key, forKey: .key)
        }
    }

    struct NodeView: Encodable {
        var id: String
        var accountID: String
        var name: String
        var region: String
        var trustClass: String
        var createdAt: Date
        var revokedAt: Date?
        var lastSeenAt: Date?
        var connected: Bool
        var inFlight: Int
        /// The plain credential: set only in the response that created it.
        var credential: String?

        init(_ node: NodeRecord, connected: Bool = false, inFlight: Int = 0, credential: String? = nil) {
            id = node.id
            accountID = node.accountID
            name = node.name
            region = node.region
            trustClass = node.trustClass
            createdAt = node.createdAt
            revokedAt = node.revokedAt
            lastSeenAt = node.lastSeenAt
            self.connected = connected
            self.inFlight = inFlight
            self.credential = credential
        }

        enum CodingKeys: String, CodingKey {
            case id, name, region, connected, credential
            case accountID = "account_id", trustClass = "trust_class", createdAt = "created_at", revokedAt = "revoked_at"
            case lastSeenAt = "last_seen_at", inFlight = "in_flight"
        }
    }
}
