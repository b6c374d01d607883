/// The `GET /v1/models` response.
public struct ModelList: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [Model]

    public init(data: [Model]) { self.data = data }

    public struct Model: Codable, Sendable, Equatable {
        public var id: String
        public var object = "model"
        public var created: Int
        public var ownedBy: String
        public var porten: PortenInfo

        public init(id: String, created: Int, ownedBy: String, porten: PortenInfo) {
            self.id = id
            self.created = created
            self.ownedBy = ownedBy
            self.porten = porten
        }

        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by", porten = "x_porten" }
    }

    /// Porten's extension block: whether a node serves the model right now, and what it can do.
    public struct PortenInfo: Codable, Sendable, Equatable {
        public var ready: Bool
        public var type: String
        public var ctx: Int
        public var capabilities: [String]

        public init(ready: Bool, type: String, ctx: Int, capabilities: [String]) {
            self.ready = ready
            self.type = type
            self.ctx = ctx
            self.capabilities = capabilities
        }
    }
}
