import Foundation

// MARK: - Loading models (docs/node-protocol.md, "Loading and unloading")

extension TunnelMessage {
    /// Load a catalog model on a provisionable node. Sizes and weights come from the Hub's catalog.
    public struct Load: Codable, Sendable, Equatable {
        public var model: String
        public var downloadRef: String?
        public var sha256: String?
        public var diskMB: Int
        public var vramMB: Int
        /// `chat` or `embedding` (the catalog's `type`); an engine serves embeddings differently.
        public var modelType: String?
        /// The catalog's context length in tokens.
        public var ctx: Int?

        public init(
            model: String, downloadRef: String? = nil, sha256: String? = nil, diskMB: Int, vramMB: Int, modelType: String? = nil, ctx: Int? = nil
        ) {
            self.model = model
            self.downloadRef = downloadRef
            self.sha256 = sha256
            self.diskMB = diskMB
            self.vramMB = vramMB
            self.modelType = modelType
            self.ctx = ctx
        }

        /// Whether the model answers `/v1/embeddings` rather than chat.
        public var isEmbedding: Bool { modelType == "embedding" }

        enum CodingKeys: String, CodingKey {
            case model, sha256, ctx
            case downloadRef = "download_ref", diskMB = "disk_mb", vramMB = "vram_mb", modelType = "model_type"
        }
    }

    /// Names one model: `unload` (hub → node), `loaded` and `unloaded` (node → hub).
    public struct ModelRef: Codable, Sendable, Equatable {
        public var model: String
        public init(model: String) { self.model = model }
    }

    /// How far a load has come. `done_mb` counts up to `total_mb` within each phase.
    public struct Progress: Codable, Sendable, Equatable {
        public enum Phase: String, Codable, Sendable { case downloading, loading }
        public var model: String
        public var phase: Phase
        public var doneMB: Int
        public var totalMB: Int

        public init(model: String, phase: Phase, doneMB: Int, totalMB: Int) {
            self.model = model
            self.phase = phase
            self.doneMB = doneMB
            self.totalMB = totalMB
        }

        enum CodingKeys: String, CodingKey { case model, phase, doneMB = "done_mb", totalMB = "total_mb" }
    }

    /// A load that could not finish; the model is not loaded and its partial weights are gone.
    public struct LoadFailed: Codable, Sendable, Equatable {
        public var model: String
        public var message: String

        public init(model: String, message: String) {
            self.model = model
            self.message = message
        }
    }
}
