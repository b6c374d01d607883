import PortenHub
import Testing

struct SecretTokenTests {
    @Test func generatedKeysHaveTheDocumentedShapeAndAreUnique() {
        let keys = (0..<200).map { _ in SecretToken.generate(prefix: SecretToken.apiKeyPrefix) }
        #expect(Set(keys.map(\.plain)).count == 200)
        for key in keys {
            #expect(key.plain.hasPrefix("sk-porten-") && key.plain.count == 10 + 44)
            #expect(key.hash == SecretToken.sha256(key.plain) && key.hash.count == 32)
            #expect(!key.displayPrefix.contains(String(key.plain.suffix(32))))
        }
    }

    @Test func randomHexIsLowercaseHexOfTheByteCountAndUsesEveryDigit() {
        let ids = (0..<500).map { _ in SecretToken.randomHex(byteCount: 12) }
        #expect(Set(ids).count == 500)
        #expect(ids.allSatisfy { $0.utf8.count == 24 && $0.allSatisfy { "0123456789abcdef".contains($0) } })
        // Both nibbles of every byte vary: all 16 digits show up at even and at odd positions.
        #expect(Set(ids.flatMap { $0.enumerated().filter { $0.offset % 2 == 0 }.map(\.element) }).count == 16)
        #expect(Set(ids.flatMap { $0.enumerated().filter { $0.offset % 2 == 1 }.map(\.element) }).count == 16)
    }

    @Test func aPresentedKeyMatchesOnlyItsOwnHash() throws {
        let key = SecretToken.generate(prefix: SecretToken.apiKeyPrefix)
        let presented = try #require(SecretToken(plain: key.plain, prefix: SecretToken.apiKeyPrefix))
        #expect(presented.lookupID == key.lookupID)
        #expect(presented.matches(storedHash: key.hash))
        var flipped = key.hash
        flipped[31] ^= 1
        #expect(!presented.matches(storedHash: flipped))
        #expect(!presented.matches(storedHash: Array(key.hash.prefix(16))))
    }

    @Test(arguments: ["", "sk-porten-", "sk-other-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "sk-porten-short", "sk-porten-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!"])
    func malformedKeysAreRejectedBeforeAnyLookup(presented: String) {
        #expect(SecretToken(plain: presented, prefix: SecretToken.apiKeyPrefix) == nil)
    }
}
