import GRDB

/// One curated model of the catalog file (see docs/catalog.md) and its `catalog_model` row.
public struct CatalogModel: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public enum Kind: String, Codable, Sendable { case chat, embedding }

    public static let databaseTableName = "catalog_model"
    /// The canonical id clients send as `model`.
    public var id: String
    public var type: Kind
    /// Context length in tokens.
    public var ctx: Int
    /// Any of `tools`, `json`, `vision`, `reasoning`.
    public var capabilities: [String]
    public var vramMB: Int
    public var diskMB: Int
    /// URL of the GGUF weights for the builtin engine.
    public var downloadRef: String?
    public var sha256: String?
    /// Price per million input and output tokens, in the operator's currency.
    public var priceInput: Double
    public var priceOutput: Double
    public var enabled: Bool
    public var ownedBy: String

    public init(
        id: String, type: Kind, ctx: Int, capabilities: [String] = [], vramMB: Int = 0, diskMB: Int = 0, downloadRef: String? = nil,
        sha256: String? = nil, priceInput: Double = 0, priceOutput: Double = 0, enabled: Bool = true, ownedBy: String = "porten"
    ) {
        self.id = id
        self.type = type
        self.ctx = ctx
        self.capabilities = capabilities
        self.vramMB = vramMB
        self.diskMB = diskMB
        self.downloadRef = downloadRef
        self.sha256 = sha256
        self.priceInput = priceInput
        self.priceOutput = priceOutput
        self.enabled = enabled
        self.ownedBy = ownedBy
    }

    enum CodingKeys: String, CodingKey {
        case id, type, ctx, capabilities, sha256, enabled
        case vramMB = "vram_mb", diskMB = "disk_mb", downloadRef = "download_ref"
        case priceInput = "price_input", priceOutput = "price_output", ownedBy = "owned_by"
    }

    /// Reads a catalog entry, filling optional fields with defaults.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        type = try container.decode(Kind.self, forKey: .type)
        ctx = try container.decode(Int.self, forKey: .ctx)
        capabilities = try container.decodeIfPresent([String].self, forKey: .capabilities) ?? []
        vramMB = try container.decodeIfPresent(Int.self, forKey: .vramMB) ?? 0
        diskMB = try container.decodeIfPresent(Int.self, forKey: .diskMB) ?? 0
        downloadRef = try container.decodeIfPresent(String.self, forKey: .downloadRef)
        sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
        priceInput = try container.decodeIfPresent(Double.self, forKey: .priceInput) ?? 0
        priceOutput = try container.decodeIfPresent(Double.self, forKey: .priceOutput) ?? 0
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? true
        ownedBy = try container.decodeIfPresent(String.self, forKey: .ownedBy) ?? "porten"
    }
}
