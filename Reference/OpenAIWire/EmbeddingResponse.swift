import Foundation

/// The `POST /v1/embeddings` response.
public struct EmbeddingResponse: Codable, Sendable, Equatable {
    public var object = "list"
    public var data: [Embedding]
    public var model: String
    public var usage: EmbeddingUsage

    public init(data: [Embedding], model: String, usage: EmbeddingUsage) {
        self.data = data
        self.model = model
        self.usage = usage
    }

    public struct Embedding: Codable, Sendable, Equatable {
        public var object = "embedding"
        public var index: Int
        public var embedding: Vector

        public init(index: Int, embedding: Vector) {
            self.index = index
            self.embedding = embedding
        }
    }

    /// A vector as a JSON float array, or as base64 of little-endian float32 values (EMB-3).
    public enum Vector: Codable, Sendable, Equatable {
        case float([Float])
        case base64(String)

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                self = .base64(string)
            } else {
                self = .float(try container.decode([Float].self))
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .float(let values): try container.encode(values)
            case .base64(let string): try container.encode(string)
            }
        }

        /// The base64 form of `values`: each float as 4 little-endian bytes.
        public static func base64(of values: [Float]) -> Vector {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(values.count * 4)
            for value in values {
                withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return .base64(Data(bytes).base64EncodedString())
        }

        /// The floats of either form; nil for malformed base64.
        public var floats: [Float]? {
            switch self {
            case .float(let values): return values
            case .base64(let string):
                guard let data = Data(base64Encoded: string), data.count % 4 == 0 else { return nil }
                return stride(from: 0, to: data.count, by: 4).map { offset in
                    let bits = data[data.startIndex + offset..<data.startIndex + offset + 4]
                        .enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
                    return Float(bitPattern: bits)
                }
            }
        }
    }

    public struct EmbeddingUsage: Codable, Sendable, Equatable {
        public var promptTokens: Int
        public var totalTokens: Int

        public init(promptTokens: Int) {
            self.promptTokens = promptTokens
            self.totalTokens = promptTokens
        }

        enum CodingKeys: String, CodingKey { case promptTokens = "prompt_tokens", totalTokens = "total_tokens" }
    }
}
