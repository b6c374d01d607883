import Foundation
import OpenAIWire

/// One JSON text frame of the Hub ↔ node WebSocket tunnel (docs/node-protocol.md).
///
/// Every frame is an object with a `type` and that type's fields at the top level. Requests are
/// multiplexed by `id` (the Hub's request id); a node may interleave frames of many requests.
public enum TunnelMessage: Sendable, Equatable {
    // node → hub
    case hello(Hello)
    case delta(Delta)
    case embeddings(Embeddings)
    case end(End)
    case fail(Fail)
    case progress(Progress)
    case loaded(ModelRef)
    case unloaded(ModelRef)
    case loadFailed(LoadFailed)
    // hub → node
    case welcome(Welcome)
    case infer(Infer)
    case cancel(Cancel)
    case load(Load)
    case unload(ModelRef)

    /// The version this build speaks; a hello with another version is refused.
    public static let protocolVersion = 1

    /// The `type` discriminator of each case.
    public var type: String {
        switch self {
        case .hello: "hello"
        case .delta: "delta"
        case .embeddings: "embeddings"
        case .end: "end"
        case .fail: "fail"
        case .welcome: "welcome"
        case .infer: "infer"
        case .cancel: "cancel"
        case .progress: "progress"
        case .loaded: "loaded"
        case .unloaded: "unloaded"
        case .loadFailed: "load_failed"
        case .load: "load"
        case .unload: "unload"
        }
    }
}

// MARK: - Payloads

extension TunnelMessage {
    /// The node's first frame: what it runs and what it can serve.
    public struct Hello: Codable, Sendable, Equatable {
        public var `protocol`: Int
        public var engine: String
        public var agent: String
        /// Whether the Hub may tell the node to load catalog models (builtin, sim) or not (ollama, openai).
        public var provisionable: Bool
        /// How many requests the node runs at once.
        public var concurrency: Int
        public var vramMB: Int?
        public var diskMB: Int?
        public var models: [ModelState]

        public init(
            protocol: Int = TunnelMessage.protocolVersion, engine: String, agent: String, provisionable: Bool, concurrency: Int,
            vramMB: Int? = nil, diskMB: Int? = nil, models: [ModelState]
        ) {
            self.protocol = `protocol`
            self.engine = engine
            self.agent = agent
            self.provisionable = provisionable
            self.concurrency = concurrency
            self.vramMB = vramMB
            self.diskMB = diskMB
            self.models = models
        }

        enum CodingKeys: String, CodingKey {
            case `protocol`, engine, agent, provisionable, concurrency, models
            case vramMB = "vram_mb", diskMB = "disk_mb"
        }
    }

    /// A model the node has, and whether it can serve it right now.
    public struct ModelState: Codable, Sendable, Equatable {
        public enum State: String, Codable, Sendable { case ready, loading, onDisk = "on_disk" }
        public var id: String
        public var state: State

        public init(id: String, state: State) {
            self.id = id
            self.state = state
        }
    }

    /// The Hub's answer to a hello: who the node is and what the operator assigned to it.
    public struct Welcome: Codable, Sendable, Equatable {
        public var nodeID: String
        public var region: String
        public var trustClass: String
        /// Models of the hello that the Hub accepted (those in its catalog).
        public var acceptedModels: [String]
        /// The Hub reads an answer's last text on its `end` (``End/delta``); absent from older Hubs,
        /// which would drop it.
        public var endText: Bool?

        public init(nodeID: String, region: String, trustClass: String, acceptedModels: [String], endText: Bool? = nil) {
            self.nodeID = nodeID
            self.region = region
            self.trustClass = trustClass
            self.acceptedModels = acceptedModels
            self.endText = endText
        }

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id", region, trustClass = "trust_class", acceptedModels = "accepted_models", endText = "end_text"
        }
    }

    /// Run one request. `body` is the client's validated request body, forwarded untouched.
    public struct Infer: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable { case chat, embeddings }
        public var id: String
        public var kind: Kind
        public var model: String
        public var body: JSONValue
        /// The model's capabilities in the Hub's catalog (`tools`, `json`, `vision`, `reasoning`).
        public var capabilities: [String]
        /// The model's context window in the Hub's catalog, in tokens (absent from older Hubs).
        public var ctx: Int?

        public init(id: String, kind: Kind, model: String, body: JSONValue, capabilities: [String] = [], ctx: Int? = nil) {
            self.id = id
            self.kind = kind
            self.model = model
            self.body = body
            self.capabilities = capabilities
            self.ctx = ctx
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            kind = try container.decode(Kind.self, forKey: .kind)
            model = try container.decode(String.self, forKey: .model)
            body = try container.decode(JSONValue.self, forKey: .body)
            capabilities = try container.decodeIfPresent([String].self, forKey: .capabilities) ?? []
            ctx = try container.decodeIfPresent(Int.self, forKey: .ctx)
        }
    }

    /// Stop request `id`; the node answers with `fail` (cancelled) or nothing if it already ended.
    public struct Cancel: Codable, Sendable, Equatable {
        public var id: String
        public init(id: String) { self.id = id }
    }

    /// A piece of a chat answer, in generation order: text, reasoning, or a piece of a tool call.
    public struct Delta: Codable, Sendable, Equatable {
        public var id: String
        public var content: String?
        public var reasoningContent: String?
        public var toolCall: ToolCallDelta?
        /// How many of the engine's pieces (tokens, as generated) this delta carries, when more
        /// than one: a node that sends a whole answer in fewer deltas says so (absent: one).
        public var pieces: Int?
        /// How many milliseconds before this frame its first piece was generated, when the node
        /// held it (an answer read whole): the Hub takes the time to first token from it.
        public var heldMS: Int?

        public init(
            id: String, content: String? = nil, reasoningContent: String? = nil, toolCall: ToolCallDelta? = nil, pieces: Int? = nil,
            heldMS: Int? = nil
        ) {
            self.id = id
            self.content = content
            self.reasoningContent = reasoningContent
            self.toolCall = toolCall
            self.pieces = pieces
            self.heldMS = heldMS
        }

        enum CodingKeys: String, CodingKey {
            case id, content, reasoningContent = "reasoning_content", toolCall = "tool_call", pieces, heldMS = "held_ms"
        }
    }

    /// The vectors of an embeddings request, one per input, in input order.
    public struct Embeddings: Codable, Sendable, Equatable {
        public var id: String
        public var vectors: [[Float]]

        public init(id: String, vectors: [[Float]]) {
            self.id = id
            self.vectors = vectors
        }
    }

    /// The last frame of a successful request. To a Hub whose welcome says ``Welcome/endText``,
    /// it may also carry the answer's last text, as a delta would (``delta``): a short answer
    /// read whole then takes one frame.
    public struct End: Codable, Sendable, Equatable {
        public var id: String
        /// `stop`, `length` or `tool_calls` for chat; nil for embeddings.
        public var finishReason: String?
        public var usage: Usage
        /// The answer's last text, reasoning, piece count and hold, as on a ``Delta``.
        public var content: String?
        public var reasoningContent: String?
        public var pieces: Int?
        public var heldMS: Int?

        public init(id: String, finishReason: String?, usage: Usage, last: Delta? = nil) {
            self.id = id
            self.finishReason = finishReason
            self.usage = usage
            if let last {
                (content, reasoningContent, pieces, heldMS) = (last.content, last.reasoningContent, last.pieces, last.heldMS)
            }
        }

        /// The text this frame carries, as the delta the Hub relays before the end; nil if none.
        public var delta: Delta? {
            guard content != nil || reasoningContent != nil else { return nil }
            return Delta(id: id, content: content, reasoningContent: reasoningContent, pieces: pieces, heldMS: heldMS)
        }

        enum CodingKeys: String, CodingKey {
            case id, finishReason = "finish_reason", usage, content, reasoningContent = "reasoning_content", pieces, heldMS = "held_ms"
        }
    }

    /// The last frame of a failed request, with an OpenAI error for the client.
    public struct Fail: Codable, Sendable, Equatable {
        public var id: String
        public var error: APIError

        public init(id: String, error: APIError) {
            self.id = id
            self.error = error
        }
    }
}
