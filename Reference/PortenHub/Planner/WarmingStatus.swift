/// The body of `GET /public/v1/models/warming`: how far a model is from being served.
public struct WarmingStatus: Codable, Sendable, Equatable {
    public var model: String
    public var ready: Bool
    /// `cold` (nothing loading), `downloading`, `loading` or `ready`.
    public var phase: String
    public var doneMB: Int
    public var totalMB: Int
    public var pct: Int

    public init(model: String, ready: Bool, phase: String, doneMB: Int, totalMB: Int, pct: Int) {
        self.model = model
        self.ready = ready
        self.phase = phase
        self.doneMB = doneMB
        self.totalMB = totalMB
        self.pct = pct
    }

    static func ready(_ model: String, totalMB: Int) -> WarmingStatus {
        WarmingStatus(model: model, ready: true, phase: "ready", doneMB: totalMB, totalMB: totalMB, pct: 100)
    }

    static func cold(_ model: String, totalMB: Int) -> WarmingStatus {
        WarmingStatus(model: model, ready: false, phase: "cold", doneMB: 0, totalMB: totalMB, pct: 0)
    }

    enum CodingKeys: String, CodingKey { case model, ready, phase, pct, doneMB = "done_mb", totalMB = "total_mb" }
}
