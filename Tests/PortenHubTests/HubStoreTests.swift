import Foundation
import PortenHub
import Testing

struct HubStoreTests {
    @Test(arguments: StoreEngine.allCases) func migrationsApplyInOrder(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let applied = try await store.appliedMigrations()
            #expect(applied == ["v1-accounts-keys-nodes", "v1-catalog", "v1-usage", "v2-usage-user-metadata", "v3-usage-attempts", "v4-portal-users-sessions", "v5-enrollment", "v6-ledger"])
        }
    }

    @Test(arguments: StoreEngine.allCases) func keysAuthenticateUntilRevoked(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let (key, token) = try await store.createKey(accountID: account.id, name: "ci")
            #expect(try await store.authenticateKey(token.plain) == AuthenticatedKey(keyID: key.id, accountID: account.id))
            #expect(try await store.keys(accountID: account.id).map(\.id) == [key.id])
            #expect(try await store.authenticateKey(token.plain + "x") == nil)
            #expect(try await store.revokeKey(id: key.id))
            #expect(try await store.authenticateKey(token.plain) == nil)
            #expect(try await !store.revokeKey(id: key.id))
        }
    }

    @Test(arguments: StoreEngine.allCases) func theStoreNeverHoldsThePlainKey(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let (key, token) = try await store.createKey(accountID: account.id, name: "ci")
            #expect(Array(key.secretHash) == token.hash)
            #expect(!"\(key)".contains(String(token.plain.suffix(32))))
        }
    }

    @Test(arguments: StoreEngine.allCases) func disablingAnAccountStopsItsKeysAndNodes(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let (_, token) = try await store.createKey(accountID: account.id, name: "ci")
            let (node, credential) = try await store.createNode(accountID: account.id, name: "n", region: "eu", trustClass: "verified")
            #expect(try await store.authenticateNode(credential.plain)?.id == node.id)
            try await store.disableAccount(id: account.id)
            #expect(try await store.authenticateKey(token.plain) == nil)
            #expect(try await store.authenticateNode(credential.plain) == nil)
        }
    }

    @Test(arguments: StoreEngine.allCases) func keysNeedAnExistingAccount(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            _ = await #expect(throws: StoreError.self) { try await store.createKey(accountID: "acct_missing", name: "x") }
        }
    }

    @Test(arguments: StoreEngine.allCases) func catalogIsReplacedByTheFile(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            try await store.replaceCatalog(.reference)
            try await store.replaceCatalog(Catalog(models: [CatalogModel(id: "only", type: .chat, ctx: 4096, enabled: false)]))
            let catalog = try await store.catalog()
            #expect(catalog.models.map(\.id) == ["only"])
            #expect(catalog.offered("only") == nil)
        }
    }

    @Test func catalogFilesAreValidated() async throws {
        let ok = try Catalog(json: Array(#"{"models":[{"id":"a","type":"chat","ctx":10,"capabilities":["tools"]}]}"#.utf8).data)
        #expect(ok.offered("a")?.capabilities == ["tools"])
        #expect(throws: CatalogError.self) {
            try Catalog(json: Array(#"{"models":[{"id":"a","type":"chat","ctx":10},{"id":"a","type":"chat","ctx":10}]}"#.utf8).data)
        }
        #expect(throws: CatalogError.self) { try Catalog(json: Array(#"{"models":[{"id":"a","type":"video","ctx":10}]}"#.utf8).data) }
        let badRef = #expect(throws: CatalogError.self) {
            try Catalog(json: Array(#"{"models":[{"id":"a","type":"chat","ctx":10,"download_ref":"ftp://x/a.gguf"}]}"#.utf8).data)
        }
        #expect(badRef?.description.contains("'a' has download_ref 'ftp://x/a.gguf'") == true)
        let badSHA = #expect(throws: CatalogError.self) {
            try Catalog(json: Array(#"{"models":[{"id":"a","type":"chat","ctx":10,"sha256":"abc"}]}"#.utf8).data)
        }
        #expect(badSHA?.description.contains("expected 64 hexadecimal digits") == true)
        let good = #"{"models":[{"id":"a","type":"chat","ctx":10,"download_ref":"https://x/a.gguf","sha256":"\#(String(repeating: "aB", count: 32))"}]}"#
        #expect(try Catalog(json: Array(good.utf8).data).models[0].sha256?.count == 64)
    }

    @Test(arguments: StoreEngine.allCases) func usageRowsRoundTrip(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            // Every column set, each to a value of its own: the hand-written encoder must write them all.
            let row = UsageRecord(
                time: .init(timeIntervalSince1970: 1000.25), requestID: "req_1", keyID: "key_1", accountID: "acct_1", nodeID: "node_1",
                region: "eu", model: "ref-chat", endpoint: "chat.completions", promptTokens: 3, completionTokens: 4, status: 200,
                latencyMS: 12, timeToFirstTokenMS: 5, user: "u-7", metadata: #"{"a":"b"}"#, attempts: 2,
                price: Price(inputMicrosPerMillion: 11, outputMicrosPerMillion: 13))
            try await store.insertUsage([row, row])
            let rows = try await store.recentUsage(limit: 1, keyID: "key_1")
            var expected = row
            expected.id = 2
            #expect(rows == [expected])
        }
    }

    /// Replicas flush usage batches at the same time, crossing the same accounts in opposite
    /// orders: none deadlocks or is lost, and every balance is exact.
    @Test(arguments: StoreEngine.allCases) func concurrentUsageBatchesAcrossAccountsAllCommit(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            var accounts: [String] = []
            var nodes: [String] = []
            for index in 0..<4 {
                let account = try await store.createAccount(name: "a\(index)").id
                accounts.append(account)
                nodes.append(try await store.createNode(accountID: account, name: "n\(index)", region: "eu", trustClass: "verified").node.id)
            }
            let price = Price(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 0)
            let (pairs, nodeIDs) = (accounts, nodes)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for batch in 0..<8 {
                    group.addTask {
                        // Batch b: every account uses the next one's node, in an order that flips with b.
                        let order = batch.isMultiple(of: 2) ? Array(0..<4) : Array((0..<4).reversed())
                        let rows = order.map { index in
                            UsageRecord(
                                time: Date(), requestID: "req_\(batch)_\(index)", keyID: "k", accountID: pairs[index], nodeID: nodeIDs[(index + 1) % 4],
                                region: "eu", model: "m\u{0}", endpoint: "chat.completions", promptTokens: 1_000_000, completionTokens: 0, status: 200,
                                latencyMS: 1, timeToFirstTokenMS: nil, price: price)
                        }
                        try await store.insertUsage(rows, ledger: LedgerPolicy(feeBasisPoints: 1000))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.recentUsage(limit: 100).count == 32)
            for account in accounts {
                // Paid 8 × 1.00, earned 8 × 0.90 on its node.
                #expect(try await store.balance(account).micros == -800_000)
            }
            #expect(try await store.balance("platform").micros == 3_200_000)
            #expect(try await store.ledgerTotal() == 0)
            // A NUL sent by a client is kept out of the way, not a reason to lose the batch.
            #expect(try await store.recentUsage(limit: 1).first?.model?.hasPrefix("m") == true)
            #expect(try await store.user(email: "a\u{0}@x.io") == nil)
        }
    }
}

extension Array where Element == UInt8 {
    var data: Foundation.Data { Foundation.Data(self) }
}
