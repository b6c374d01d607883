import Foundation
import OpenAIWire

extension TunnelMessage: Codable {
    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        switch type {
        case "hello": self = .hello(try Hello(from: decoder))
        case "delta": self = .delta(try Delta(from: decoder))
        case "embeddings": self = .embeddings(try Embeddings(from: decoder))
        case "end": self = .end(try End(from: decoder))
        case "fail": self = .fail(try Fail(from: decoder))
        case "welcome": self = .welcome(try Welcome(from: decoder))
        case "infer": self = .infer(try Infer(from: decoder))
        case "cancel": self = .cancel(try Cancel(from: decoder))
        case "progress": self = .progress(try Progress(from: decoder))
        case "loaded": self = .loaded(try ModelRef(from: decoder))
        case "unloaded": self = .unloaded(try ModelRef(from: decoder))
        case "load_failed": self = .loadFailed(try LoadFailed(from: decoder))
        case "load": self = .load(try Load(from: decoder))
        case "unload": self = .unload(try ModelRef(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: try decoder.container(keyedBy: TypeKey.self), debugDescription: "unknown frame type '\(type)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: TypeKey.self)
        try container.encode(type, forKey: .type)
        switch self {
        case .hello(let payload): try payload.encode(to: encoder)
        case .delta(let payload): try payload.encode(to: encoder)
        case .embeddings(let payload): try payload.encode(to: encoder)
        case .end(let payload): try payload.encode(to: encoder)
        case .fail(let payload): try payload.encode(to: encoder)
        case .welcome(let payload): try payload.encode(to: encoder)
        case .infer(let payload): try payload.encode(to: encoder)
        case .cancel(let payload): try payload.encode(to: encoder)
        case .progress(let payload): try payload.encode(to: encoder)
        case .loaded(let payload), .unloaded(let payload), .unload(let payload): try payload.encode(to: encoder)
        case .loadFailed(let payload): try payload.encode(to: encoder)
        case .load(let payload): try payload.encode(to: encoder)
        }
    }

    /// The frame as one compact JSON text.
    public func encodedText() throws -> String {
        if let text = hotText { return text }
        return String(decoding: try JSONEncoder().encode(self), as: UTF8.self)
    }

    /// Decodes one text frame (``init(text:budget:)`` without a budget).
    public init(text: String) throws { try self.init(text: text, budget: nil) }

    /// Decodes one text frame: parsed once, the frames of every request read from that parse.
    /// Without a budget, what the strict parser refuses (duplicate keys, deeper nesting) is left
    /// to `JSONDecoder`, so a frame is accepted exactly when the `Codable` reading accepts it. With
    /// one (``fromNode(text:)``), the strict parse is final: a frame over the budget, or one the
    /// strict parser refuses before it could count all of it (a duplicate key up front), never
    /// reaches `JSONDecoder`, which would build it whole.
    public init(text: String, budget: JSONParser.Budget?) throws {
        let parsed: JSONValue?
        do {
            parsed = try JSONParser.parse(Array(text.utf8), maximumDepth: Self.maximumDepth, budget: budget)
        } catch where budget != nil {
            throw error
        } catch {
            parsed = nil
        }
        if let object = parsed?.objectValue, let type = object["type"]?.stringValue, let frame = try Self.hotFrame(type: type, object) {
            self = frame
            return
        }
        self = try JSONDecoder().decode(TunnelMessage.self, from: Data(text.utf8))
    }
}
