/// An inline image of a vision request: `data:<image type>;base64,<bytes>`.
public struct DataURL: Sendable, Equatable {
    public var mediaType: String
    /// Size of the decoded bytes.
    public var byteCount: Int
    /// The base64 text after the comma (for engines that take images as base64, like Ollama).
    public var base64Payload: String?

    public init(mediaType: String, byteCount: Int, base64Payload: String? = nil) {
        self.mediaType = mediaType
        self.byteCount = byteCount
        self.base64Payload = base64Payload
    }

    public static let imageTypes: Set<String> = ["image/png", "image/jpeg", "image/gif", "image/webp"]

    /// Parses and checks a data URL; the message says what is wrong, for a 400.
    public init(parsing url: String) throws(DataURLError) {
        guard url.hasPrefix("data:") else { throw DataURLError("it is not a data: URL") }
        guard let comma = url.firstIndex(of: ",") else { throw DataURLError("it has no ',' before the data") }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma]
        guard header.hasSuffix(";base64") else { throw DataURLError("only base64 data URLs are supported (data:image/png;base64,…)") }
        let mediaType = header.dropLast(7).lowercased()
        guard Self.imageTypes.contains(mediaType) else {
            throw DataURLError("'\(mediaType)' is not a supported image type (\(Self.imageTypes.sorted().joined(separator: ", ")))")
        }
        let payload = url[url.index(after: comma)...]
        guard let count = Self.decodedLength(payload), count > 0 else { throw DataURLError("its base64 data is empty or malformed") }
        self.mediaType = mediaType
        self.byteCount = count
        self.base64Payload = String(payload)
    }

    /// Length of valid base64 (padded, standard alphabet), without decoding it.
    static func decodedLength(_ text: Substring) -> Int? {
        let bytes = text.utf8
        guard bytes.count % 4 == 0 else { return nil }
        var padding = 0
        for (offset, byte) in bytes.enumerated() {
            let isAlphabet = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2B || byte == 0x2F
            if byte == 0x3D {
                guard offset >= bytes.count - 2 else { return nil }
                padding += 1
            } else if !isAlphabet || padding > 0 {
                return nil
            }
        }
        return bytes.count / 4 * 3 - padding
    }
}

public struct DataURLError: Error, Sendable {
    public let reason: String
    init(_ reason: String) { self.reason = reason }
}
