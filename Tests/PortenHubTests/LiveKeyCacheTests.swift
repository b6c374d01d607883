import Foundation
import Synchronization
import Testing

@testable import PortenHub

/// The per-request key read is answered from memory for at most a second; changes made through
/// the Hub act at once, changes from another process within the second.
struct LiveKeyCacheTests {
    @Test func aPolicyChangeAppliesToTheNextRequest() async throws {
        let store = try SQLiteStore.inMemory()
        let account = try await store.createAccount(name: "acme")
        let (key, token) = try await store.createKey(accountID: account.id, name: "ci")
        #expect(try await store.authenticateKey(token.plain)?.policy.allowedRegions == nil)
        _ = try await store.updateKeyPolicy(id: key.id) { policy in
            var policy = policy
            policy.allowedRegions = ["eu"]
            return policy
        }
        #expect(try await store.authenticateKey(token.plain)?.policy.allowedRegions == ["eu"])
    }

    @Test func anotherProcessRevokingAKeyStopsItWithinASecond() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("porten-keycache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("hub.sqlite").path
        let clock = HandMovedInstant()
        let hub = try SQLiteStore.open(path: path, liveKeys: LiveKeyCache(now: { clock.read() }))
        let admin = try SQLiteStore.open(path: path)  // `porten admin` on the same database
        let account = try await hub.createAccount(name: "acme")
        let (key, token) = try await hub.createKey(accountID: account.id, name: "ci")
        #expect(try await hub.authenticateKey(token.plain) != nil)
        #expect(try await admin.revokeKey(id: key.id))
        // The Hub has not seen the commit: the key still answers from memory, which is the point.
        #expect(try await hub.authenticateKey(token.plain) != nil)
        clock.advance(by: LiveKeyCache.lifetime - .milliseconds(1))
        #expect(try await hub.authenticateKey(token.plain) != nil)
        clock.advance(by: .milliseconds(1))
        #expect(try await hub.authenticateKey(token.plain) == nil)
    }

    @Test func aLookupThatRacedACommitIsNotRemembered() async throws {
        let store = try SQLiteStore.inMemory()
        let account = try await store.createAccount(name: "acme")
        let (_, token) = try await store.createKey(accountID: account.id, name: "ci")
        let cache = LiveKeyCache()
        store.writer.add(transactionObserver: cache, extent: .databaseLifetime)
        let stale = AuthenticatedKey(keyID: "key_stale", accountID: account.id)
        // The lookup read the row, then an account change committed before it returned.
        _ = try await cache.key(for: token.hash) {
            _ = try await store.disableAccount(id: account.id)
            return stale
        }
        var lookups = 0
        let answer = await cache.key(for: token.hash) {
            lookups += 1
            return nil
        }
        #expect(lookups == 1)
        #expect(answer == nil)
    }

    @Test func aLookAlikeOfACachedKeyIsRefusedAsTheStoreRefusesIt() async throws {
        let store = try SQLiteStore.inMemory()
        let account = try await store.createAccount(name: "acme")
        // A key with a "K" in it (about every other one has).
        var plain = ""
        for _ in 0..<64 where !plain.dropFirst(SecretToken.apiKeyPrefix.count).contains("K") {
            plain = try await store.createKey(accountID: account.id, name: "ci").1.plain
        }
        let kelvin = SecretToken.apiKeyPrefix + plain.dropFirst(SecretToken.apiKeyPrefix.count).replacing("K", with: "\u{212A}")
        // U+212A KELVIN SIGN is canonically equivalent to K: the same String, not the same token.
        #expect(kelvin == plain)
        #expect(try await store.authenticateKey(plain) != nil)
        #expect(try await store.authenticateKey(kelvin) == nil)
    }

    @Test func onlyLiveKeysAreRemembered() async throws {
        let cache = LiveKeyCache()
        var lookups = 0
        for _ in 0..<3 {
            _ = await cache.key(for: [1, 2, 3]) {
                lookups += 1
                return nil
            }
        }
        #expect(lookups == 3)
        let key = AuthenticatedKey(keyID: "key_1", accountID: "acct_1")
        for _ in 0..<3 {
            _ = await cache.key(for: [4, 5, 6]) {
                lookups += 1
                return key
            }
        }
        #expect(lookups == 4)
    }
}

/// A `ContinuousClock` instant that moves only when a test moves it.
final class HandMovedInstant: Sendable {
    private let instant = Mutex(ContinuousClock.now)

    func read() -> ContinuousClock.Instant { instant.withLock { $0 } }

    func advance(by duration: Duration) { instant.withLock { $0 += duration } }
}
