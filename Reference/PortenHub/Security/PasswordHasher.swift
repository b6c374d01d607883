import COpenSSL
import Foundation

/// Password hashing with scrypt (OpenSSL's `EVP_PBE_scrypt`), a memory-hard KDF.
///
/// Stored form: `scrypt$<log2 N>$<r>$<p>$<salt, base64>$<key, base64>`, so the cost can be raised
/// later and old hashes still verify. Defaults: N = 2¹⁵, r = 8, p = 1 (32 MiB and ≈ 0.1 s per
/// hash on one core), a 16-byte random salt and a 32-byte key. Verification recomputes with the
/// stored parameters and compares in constant time. Passwords are never logged or stored.
public struct PasswordHasher: Sendable {
    public var logN: Int
    public var r: Int
    public var p: Int

    public static let standard = PasswordHasher(logN: 15, r: 8, p: 1)

    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// Passwords are 10 to 1,024 characters.
    public static let lengths = 10...1024

    public func hash(_ password: String) -> String {
        var salt = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&salt, Int32(salt.count)) == 1 else { fatalError("OpenSSL RAND_bytes failed") }
        let key = Self.derive(password, salt: salt, logN: logN, r: r, p: p)!
        return "scrypt$\(logN)$\(r)$\(p)$\(Data(salt).base64EncodedString())$\(Data(key).base64EncodedString())"
    }

    /// Whether `password` matches `stored`; false for a malformed or unknown stored form.
    public static func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
            (10...20).contains(logN), (1...32).contains(r), (1...16).contains(p),
            let salt = Data(base64Encoded: String(parts[4])), let expected = Data(base64Encoded: String(parts[5])), expected.count == 32,
            let key = derive(password, salt: Array(salt), logN: logN, r: r, p: p)
        else { return false }
        return SecretToken.constantTimeEquals(key, Array(expected))
    }

    /// A hash that never verifies, computed anyway for unknown emails so that timing does not tell
    /// which emails have accounts.
    public func burn(_ password: String) {
        _ = Self.derive(password, salt: [UInt8](repeating: 0, count: 16), logN: logN, r: r, p: p)
    }

    static func derive(_ password: String, salt: [UInt8], logN: Int, r: Int, p: Int) -> [UInt8]? {
        var key = [UInt8](repeating: 0, count: 32)
        let bytes = Array(password.utf8)
        let n = UInt64(1) << UInt64(logN)
        // scrypt needs 128·N·r·p bytes; allow twice that.
        let memory = 256 * n * UInt64(r) * UInt64(p)
        let status = bytes.withUnsafeBufferPointer { passwordBytes in
            passwordBytes.withMemoryRebound(to: CChar.self) { passwordChars in
                EVP_PBE_scrypt(
                    passwordChars.baseAddress, passwordChars.count, salt, salt.count, n, UInt64(r), UInt64(p), memory, &key, key.count)
            }
        }
        return status == 1 ? key : nil
    }
}
