/// A validated `POST /v1/embeddings` body.
public struct EmbeddingRequest: Sendable {
    public enum EncodingFormat: String, Sendable { case float, base64 }

    public var model: String
    /// The inputs; token-array inputs are kept as their decimal text.
    public var inputs: [String]
    public var encodingFormat: EncodingFormat
    public var dimensions: Int?
    public var user: String?
    public var body: JSONValue

    /// The most inputs one request may carry (OpenAI's limit).
    public static let maximumInputs = 2048

    public init(validating body: JSONValue) throws(APIError) {
        let fields = try RequestFields(body)
        self.body = body
        model = try fields.requiredString("model")
        guard let input = fields.value("input") else { throw fields.missing("input") }
        inputs = try Self.inputs(input)
        encodingFormat = EncodingFormat(rawValue: try fields.oneOf("encoding_format", ["float", "base64"]) ?? "float")!
        dimensions = try fields.int("dimensions", in: 1...65_536)
        user = try fields.string("user")
    }

    private static func inputs(_ input: JSONValue) throws(APIError) -> [String] {
        // OpenAI answers an empty input with param null.
        let empty = APIError.invalidRequest("Invalid 'input': it cannot be an empty string or an empty array.")
        switch input {
        case .string(let string):
            guard !string.isEmpty else { throw empty }
            return [string]
        case .array(let elements):
            guard !elements.isEmpty else { throw empty }
            guard elements.count <= maximumInputs else {
                throw .invalidRequest("Invalid 'input': at most \(maximumInputs) inputs per request, got \(elements.count).", param: "input")
            }
            if elements.allSatisfy({ $0.intValue != nil }) {
                return [elements.map { String($0.intValue!) }.joined(separator: " ")]
            }
            var inputs: [String] = []
            for (index, element) in elements.enumerated() {
                switch element {
                case .string(let string) where !string.isEmpty: inputs.append(string)
                case .array(let tokens) where !tokens.isEmpty && tokens.allSatisfy({ $0.intValue != nil }):
                    inputs.append(tokens.map { String($0.intValue!) }.joined(separator: " "))
                default:
                    throw .invalidRequest(
                        "Invalid 'input[\(index)]': expected a non-empty string or token array, but got \(element.typeDescription).",
                        param: "input[\(index)]")
                }
            }
            return inputs
        default:
            throw .invalidRequest("Invalid type for 'input': expected a string or an array, but got \(input.typeDescription).", param: "input", code: "invalid_type")
        }
    }
}
