import COpenSSL

/// A high-entropy secret (API key, node credential) from OpenSSL's RNG, stored only as SHA-256.
///
/// The plain form is `<prefix><lookup id><secret>`: the 12-character lookup id finds the stored
/// row through an index, and the SHA-256 of the whole token is then compared in constant time, so
/// neither the lookup nor the compare leaks how much of a guessed secret was right.
public struct SecretToken: Sendable, Equatable {
    /// The token as shown to its owner, exactly once.
    public let plain: String
    public let lookupID: String
    /// SHA-256 of `plain`.
    public let hash: [UInt8]

    public static let apiKeyPrefix = "sk-porten-"
    public static let nodeCredentialPrefix = "pnode-"
    public static let enrollmentTokenPrefix = "penroll-"
    static let lookupLength = 12
    static let secretLength = 32

    /// A new random token; ~262 bits of entropy (44 base62 characters).
    public static func generate(prefix: String) -> SecretToken {
        let body = randomBase62(count: lookupLength + secretLength)
        return SecretToken(plain: prefix + body, prefix: prefix)!
    }

    /// Splits a presented token; nil when it does not have the expected shape.
    public init?(plain: String, prefix: String) {
        guard plain.hasPrefix(prefix) else { return nil }
        let body = plain.utf8.dropFirst(prefix.utf8.count)
        // Bytes, not characters: this runs on every API request.
        guard body.count == Self.lookupLength + Self.secretLength,
            body.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) })
        else { return nil }
        self.plain = plain
        self.lookupID = String(decoding: body.prefix(Self.lookupLength), as: UTF8.self)
        self.hash = Self.sha256(plain)
    }

    /// Whether this token's hash equals `storedHash`, compared in constant time.
    public func matches(storedHash: [UInt8]) -> Bool { Self.constantTimeEquals(hash, storedHash) }

    /// Whether two byte strings are equal, in time that depends only on their length.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { a in b.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
    }

    /// A short display form that identifies a token without revealing it: `sk-porten-AbCdEfGh…`.
    public var displayPrefix: String { String(plain.prefix(plain.count - Self.secretLength - 4)) + "…" }

    public static func sha256(_ text: String) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let bytes = Array(text.utf8)
        bytes.withUnsafeBufferPointer { input in
            _ = SHA256(input.baseAddress, input.count, &digest)
        }
        return digest
    }

    /// `byteCount` random bytes as lowercase hex. RAND_bytes draws from OpenSSL's per-thread
    /// generator: no system call per id (Swift's `SystemRandomNumberGenerator` makes one per word).
    public static func randomHex(byteCount: Int) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: byteCount) { bytes in
            guard RAND_bytes(bytes.baseAddress, Int32(byteCount)) == 1 else { fatalError("OpenSSL RAND_bytes failed") }
            return String(unsafeUninitializedCapacity: 2 * byteCount) { text in
                for (index, byte) in bytes.enumerated() {
                    text[2 * index] = digits[Int(byte >> 4)]
                    text[2 * index + 1] = digits[Int(byte & 0x0F)]
                }
                return 2 * byteCount
            }
        }
    }

    /// `count` characters of [0-9A-Za-z] drawn uniformly (rejection sampling over RAND_bytes).
    public static func randomBase62(count: Int) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        var result = ""
        while result.count < count {
            var buffer = [UInt8](repeating: 0, count: 64)
            guard RAND_bytes(&buffer, Int32(buffer.count)) == 1 else { fatalError("OpenSSL RAND_bytes failed") }
            for byte in buffer where byte < 248 && result.count < count {
                result.append(alphabet[Int(byte % 62)])
            }
        }
        return result
    }
}
