import Foundation
import GRDB

/// An account: owns API keys and nodes.
public struct Account: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "account"
    public var id: String
    public var name: String
    public var createdAt: Date
    public var disabledAt: Date?

    enum CodingKeys: String, CodingKey { case id, name, createdAt = "created_at", disabledAt = "disabled_at" }
}

/// An API key's stored row; the plain key is never stored.
public struct APIKey: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "api_key"
    public var id: String
    public var accountID: String
    public var name: String
    public var lookupID: String
    public var secretHash: Data
    public var displayPrefix: String
    public var createdAt: Date
    public var revokedAt: Date?
    // Policy columns (enforced by the sovereign-routing issue): JSON arrays or null.
    public var allowedRegions: String?
    public var minTrustClass: String?
    public var ownNodesOnly: Bool
    public var modelAllowlist: String?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// `api` for keys people create; `playground` for the one key per account the portal's
    /// playground calls with (not listed on the keys page).
    public var purpose: String = "api"

    enum CodingKeys: String, CodingKey {
        case id, name, purpose
        case accountID = "account_id", lookupID = "lookup_id", secretHash = "secret_hash", displayPrefix = "display_prefix"
        case createdAt = "created_at", revokedAt = "revoked_at"
        case allowedRegions = "allowed_regions", minTrustClass = "min_trust_class", ownNodesOnly = "own_nodes_only"
        case modelAllowlist = "model_allowlist", requestsPerMinute = "requests_per_minute", tokensPerMinute = "tokens_per_minute"
    }
}

/// A node the operator added; region and trust class are the operator's, never the node's claim.
public struct NodeRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "node"
    public var id: String
    public var accountID: String
    public var name: String
    public var lookupID: String
    public var credentialHash: Data
    public var region: String
    public var trustClass: String
    public var createdAt: Date
    public var revokedAt: Date?
    public var lastSeenAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, region
        case accountID = "account_id", lookupID = "lookup_id", credentialHash = "credential_hash", trustClass = "trust_class"
        case createdAt = "created_at", revokedAt = "revoked_at", lastSeenAt = "last_seen_at"
    }
}

/// One request's metering row. Never holds prompt or completion content.
public struct UsageRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "usage"
    public var id: Int64?
    public var time: Date
    public var requestID: String
    public var keyID: String?
    public var accountID: String?
    public var nodeID: String?
    public var region: String?
    public var model: String?
    public var endpoint: String
    public var promptTokens: Int
    public var completionTokens: Int
    public var status: Int
    public var latencyMS: Int
    public var timeToFirstTokenMS: Int?
    /// The request's `user` field.
    public var user: String?
    /// The request's `metadata`, as compact JSON.
    public var metadata: String?
    /// The nodes the request was sent to: more than one when a node failed before answering.
    public var attempts: Int
    /// The model's price when the request started (micro-units per million tokens) and what the
    /// request cost (micro-units); the ledger posts `cost`.
    public var priceInput: Int64 = 0
    public var priceOutput: Int64 = 0
    public var cost: Int64 = 0

    public init(
        time: Date, requestID: String, keyID: String?, accountID: String?, nodeID: String?, region: String?, model: String?,
        endpoint: String, promptTokens: Int, completionTokens: Int, status: Int, latencyMS: Int, timeToFirstTokenMS: Int?,
        user: String? = nil, metadata: String? = nil, attempts: Int = 1, price: Price = Price(inputMicrosPerMillion: 0, outputMicrosPerMillion: 0)
    ) {
        self.priceInput = price.inputMicrosPerMillion
        self.priceOutput = price.outputMicrosPerMillion
        // Billed: a completed request, or a stream that produced tokens before it failed.
        self.cost = status == 200 || completionTokens > 0 ? price.cost(prompt: promptTokens, completion: completionTokens).micros : 0
        self.attempts = attempts
        self.user = user
        self.metadata = metadata
        self.time = time
        self.requestID = requestID
        self.keyID = keyID
        self.accountID = accountID
        self.nodeID = nodeID
        self.region = region
        self.model = model
        self.endpoint = endpoint
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.status = status
        self.latencyMS = latencyMS
        self.timeToFirstTokenMS = timeToFirstTokenMS
    }

    enum CodingKeys: String, CodingKey {
        case id, time, region, model, endpoint, status, user, metadata, attempts, cost
        case priceInput = "price_input", priceOutput = "price_output"
        case requestID = "request_id", keyID = "key_id", accountID = "account_id", nodeID = "node_id"
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens"
        case latencyMS = "latency_ms", timeToFirstTokenMS = "ttft_ms"
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The row's insert, prepared once per connection: one runs per request, and going through
    /// `Encodable` and GRDB's persistence container cost more than the insert itself.
    static let insertSQL: String = {
        let columns: [CodingKeys] = [
            .time, .requestID, .keyID, .accountID, .nodeID, .region, .model, .endpoint, .promptTokens, .completionTokens, .status,
            .latencyMS, .timeToFirstTokenMS, .user, .metadata, .attempts, .priceInput, .priceOutput, .cost,
        ]
        return "INSERT INTO usage (\(columns.map(\.rawValue).joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"
    }()

    /// The values of ``insertSQL``, in its order.
    var insertArguments: StatementArguments {
        [
            SQLiteDate.text(time), requestID, keyID, accountID, nodeID, region, model, endpoint, promptTokens, completionTokens, status, latencyMS,
            timeToFirstTokenMS, user, metadata, attempts, priceInput, priceOutput, cost,
        ]
    }
}
