import Foundation
import GRDB
import Logging
import Testing

@testable import PortenHub

/// `porten admin migrate sqlite-to-postgres`: a SQLite Hub's data arrives in Postgres whole and
/// working (keys, node credentials, sessions, the ledger), and only into an empty database.
struct StoreCopyTests {
    let logger = Logger(label: "test.copy")
    let start = PayoutPeriod.range("2026-09")!.start
    /// In October: September is a closed payout period.
    var now: Date { start + 40 * 86_400 }
    let enrollment = EnrollmentPolicy(region: "eu", trustClass: "verified")
    let ledger = LedgerPolicy(feeBasisPoints: 2000)
    let policy = KeyPolicy(
        allowedRegions: ["eu", "eu-de"], minTrustClass: .verified, ownNodesOnly: true, modelAllowlist: ["chat-a"], requestsPerMinute: 60,
        tokensPerMinute: 9000)

    /// What the test needs of the source besides its rows: the secrets only their owners hold.
    struct Secrets {
        var key: SecretToken
        var revokedKey: SecretToken
        var nodeCredential: SecretToken
        var node: NodeRecord
        var user: User
        var session: String
        var passwordLink: String
        var enrollmentToken: String
        var deviceCode: String
        var userCode: String
        var accounts: [String]
    }

    /// One of everything, through the store's API.
    func fill(_ store: SQLiteStore) async throws -> Secrets {
        let owner = try await store.createAccount(name: "Owner GmbH", now: start)
        let consumer = try await store.createAccount(name: "Consumer", now: start)
        let key = try await store.createKey(accountID: consumer.id, name: "prod", policy: policy, now: start).token
        let revoked = try await store.createKey(accountID: consumer.id, name: "old", policy: .unrestricted, now: start)
        #expect(try await store.revokeKey(id: revoked.key.id, now: start + 1))
        let (node, credential) = try await store.createNode(accountID: owner.id, name: "gpu-1", region: "eu", trustClass: "verified", now: start)
        try await store.markNodeSeen(id: node.id, now: start + 2)
        try await store.replaceCatalog(
            Catalog(models: [
                CatalogModel(id: "chat-a", type: .chat, ctx: 8192, capabilities: ["tools", "json"], vramMB: 6000, diskMB: 4000, priceInput: 0.15, priceOutput: 0.6),
                CatalogModel(id: "embed-b", type: .embedding, ctx: 512, downloadRef: "https://x.io/b.gguf", sha256: "ab12"),
            ]))
        try await store.setModelEnabled("embed-b", false, now: start + 3)
        let user = try await store.createUser(
            accountID: consumer.id, email: "Ann@Example.com", displayName: "Ann", role: .owner, isOperator: true, passwordHash: "hash-1", now: start)
        let session = try await store.createSession(userID: user.id, lifetime: 90 * 86_400, now: start)
        let link = try await store.createPasswordLink(userID: user.id, lifetime: 90 * 86_400, now: start)

        let price = Price(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 2_000_000)
        func row(_ id: String, at time: Date, prompt: Int, completion: Int) -> UsageRecord {
            UsageRecord(
                time: time, requestID: id, keyID: "key-x", accountID: consumer.id, nodeID: node.id, region: "eu", model: "chat-a",
                endpoint: "chat.completions", promptTokens: prompt, completionTokens: completion, status: 200, latencyMS: 120,
                timeToFirstTokenMS: 30, user: "end-user-7", metadata: #"{"team":"a"}"#, attempts: 2, price: price)
        }
        _ = try await store.grantCredit(accountID: consumer.id, amount: Money(micros: 50_000_000), memo: "welcome", now: start)
        try await store.insertUsage(
            [row("req_1", at: start + 86_400, prompt: 3_000_000, completion: 1_000_000), row("req_2", at: start + 86_400 + 0.25, prompt: 10, completion: 0)],
            ledger: ledger)
        try await store.insertUsage([row("req_3", at: start + 2 * 86_400, prompt: 1_000_000, completion: 1_500_000)], ledger: ledger)

        _ = try await store.setPayoutAccount(accountID: owner.id, holder: "Owner GmbH", iban: "DE89370400440532013000", bic: "DEUTDEFF", now: start)
        let run = try await store.runPayouts(
            period: "2026-09", minimum: .zero, debtor: (name: "Porten", iban: "GB82WEST12345698765432", bic: "NWBKGB2L"), allowOpenPeriod: false,
            reserved: [:], now: now)
        #expect(run.payouts.count == 1)

        let (_, enrollmentToken) = try await store.createEnrollmentToken(
            accountID: owner.id, namePrefix: "rack", usesAllowed: 3, lifetime: 90 * 86_400, now: start)
        _ = try await store.enroll(token: enrollmentToken, machineName: nil, policy: enrollment, address: "10.0.0.1", now: start)
        let (deviceCode, authorization) = try await store.startDeviceAuthorization(machineName: "box", lifetime: 90 * 86_400, interval: 5, now: start)
        return Secrets(
            key: key, revokedKey: revoked.token, nodeCredential: credential, node: node, user: user, session: session, passwordLink: link,
            enrollmentToken: enrollmentToken, deviceCode: deviceCode, userCode: authorization.userCode, accounts: [owner.id, consumer.id])
    }

    /// Each table's rows in the SQLite database.
    func counts(_ store: SQLiteStore) async throws -> [String: Int] {
        try await store.writer.read { db in
            try StoreCopy.tables.reduce(into: [:]) { $0[$1] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \"\($1)\"") }
        }
    }

    func temporaryDatabase() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("porten-copy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("porten.db").path
    }

    @Test func everythingArrivesAndWorksInPostgresAndASecondCopyIsRefused() async throws {
        let path = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let source = try SQLiteStore.open(path: path)
        let secrets = try await fill(source)
        let sourceCounts = try await counts(source)
        // One of everything: every table has rows, so every table's columns are exercised.
        for table in StoreCopy.tables { #expect((sourceCounts[table] ?? 0) > 0, "\(table) is empty in the source") }

        let target = try PostgresStore(url: try await PostgresTestServer.shared.database(), logger: logger)
        try await target.withRunning {
            // As the CLI reads it: read-only, from a snapshot.
            let copied = try await StoreCopy.sqliteToPostgres(from: try SQLiteStore.openReadOnly(path: path), to: target)
            #expect(copied == sourceCounts)

            // Rows, column for column (by id: the engines break ties of created_at differently).
            #expect(try await target.accounts().sorted { $0.id < $1.id } == source.accounts().sorted { $0.id < $1.id })
            #expect(try await target.keys(accountID: nil).sorted { $0.id < $1.id } == source.keys(accountID: nil).sorted { $0.id < $1.id })
            #expect(try await target.nodes().sorted { $0.id < $1.id } == source.nodes().sorted { $0.id < $1.id })
            #expect(try await target.users(accountID: nil).sorted { $0.id < $1.id } == source.users(accountID: nil).sorted { $0.id < $1.id })
            #expect(try await target.catalog() == source.catalog())
            #expect(try await target.catalog().models.first { $0.id == "embed-b" }?.enabled == false)
            let file = Catalog(models: [CatalogModel(id: "embed-b", type: .embedding, ctx: 512)])
            #expect(try await target.applyingSwitches(to: file) == source.applyingSwitches(to: file))
            #expect(try await target.applyingSwitches(to: file).models[0].enabled == false)
            let usage = try await source.recentUsage(limit: 100, keyID: nil)
            #expect(try await target.recentUsage(limit: 100, keyID: nil) == usage)
            #expect(usage.contains { $0.time == start + 86_400 + 0.25 })
            for account in secrets.accounts {
                #expect(try await target.dailyUsage(accountID: account, since: start) == source.dailyUsage(accountID: account, since: start))
                #expect(try await target.enrollmentTokens(accountID: account).sorted { $0.id < $1.id } == source.enrollmentTokens(accountID: account).sorted { $0.id < $1.id })
                #expect(try await target.payoutAccount(accountID: account) == source.payoutAccount(accountID: account))
            }
            #expect(try await target.ledgerEntries(account: nil, from: nil, to: nil, limit: 100) == source.ledgerEntries(account: nil, from: nil, to: nil, limit: 100))
            for ledgerAccount in secrets.accounts + ["platform", "external", "payable:" + secrets.accounts[0]] {
                #expect(try await target.balance(ledgerAccount) == source.balance(ledgerAccount), "\(ledgerAccount)")
            }
            #expect(try await target.balance(secrets.accounts[1]).micros != 0)
            #expect(try await target.ledgerTotal() == source.ledgerTotal())
            #expect(try await target.payouts(period: nil, accountID: nil) == source.payouts(period: nil, accountID: nil))
            #expect(try await target.payoutRun(period: "2026-09") == source.payoutRun(period: "2026-09"))

            // The secrets still open their doors: hashes arrived as bytes.
            let authenticated = try await target.authenticateKey(secrets.key.plain)
            #expect(authenticated?.policy == policy)
            #expect(authenticated == (try await source.authenticateKey(secrets.key.plain)))
            #expect(try await target.authenticateKey(secrets.revokedKey.plain) == nil)
            #expect(try await target.authenticateNode(secrets.nodeCredential.plain)?.id == secrets.node.id)
            let identity = try await target.session(secrets.session, now: now)
            let sourceIdentity = try await source.session(secrets.session, now: now)
            #expect(identity != nil)
            #expect(identity == sourceIdentity)
            #expect(try await target.passwordLinkUser(secrets.passwordLink, now: now) == secrets.user)
            #expect(try await target.pendingDeviceAuthorization(userCode: secrets.userCode, now: now) != nil)
            #expect(try await target.decideDeviceAuthorization(userCode: secrets.userCode, approve: true, by: secrets.user, machineName: "box", now: now) != nil)
            guard case .issued(let approved, _) = try await target.pollDeviceAuthorization(deviceCode: secrets.deviceCode, policy: enrollment, now: now + 10)
            else {
                Issue.record("the copied device code was not issued a credential")
                return
            }
            #expect(approved.accountID == secrets.user.accountID)

            // New rows after the copy: the identity sequences continue past the copied ids (a
            // sequence left at 1 would collide with a copied id and fail these inserts).
            let enrolled = try await target.enroll(token: secrets.enrollmentToken, machineName: nil, policy: enrollment, address: nil, now: now)
            #expect(enrolled.node.name == "rack-2")
            let lastID = usage.compactMap(\.id).max()!
            try await target.insertUsage(
                [
                    UsageRecord(
                        time: now, requestID: "req_after", keyID: nil, accountID: secrets.accounts[1], nodeID: secrets.node.id, region: "eu",
                        model: "chat-a", endpoint: "chat.completions", promptTokens: 1_000_000, completionTokens: 0, status: 200, latencyMS: 1,
                        timeToFirstTokenMS: nil, price: Price(inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 0))
                ], ledger: ledger)
            let newest = try await target.recentUsage(limit: 1, keyID: nil)
            #expect(newest.first?.requestID == "req_after" && (newest.first?.id ?? 0) > lastID)
            let payout = try await target.payouts(period: "2026-09", accountID: nil)[0]
            #expect(try await target.settlePayout(id: payout.id, paid: true, now: now)?.status == .paid)
            #expect(try await target.ledgerTotal() == 0)

            // A second copy into the same database is refused, and changes nothing.
            let before = try await target.recentUsage(limit: 100, keyID: nil)
            let error = await #expect(throws: StoreError.self) { try await StoreCopy.sqliteToPostgres(from: source, to: target) }
            #expect(String(describing: error ?? .notFound("")).contains("already holds data (account has 2 rows"))
            #expect(try await target.recentUsage(limit: 100, keyID: nil) == before)
            #expect(try await target.accounts().count == 2)
        }
    }

    @Test func aTargetWithDataIsRefusedAndLeftUnchanged() async throws {
        let source = try SQLiteStore.inMemory()
        _ = try await fill(source)
        let target = try PostgresStore(url: try await PostgresTestServer.shared.database(), logger: logger)
        try await target.withRunning {
            try await target.migrate()
            let existing = try await target.createAccount(name: "already here", now: start)
            _ = try await target.grantCredit(accountID: existing.id, amount: Money(micros: 7), memo: nil, now: start)
            let error = await #expect(throws: StoreError.self) { try await StoreCopy.sqliteToPostgres(from: source, to: target) }
            let message = String(describing: error ?? .notFound(""))
            #expect(message.contains("already holds data") && message.contains("account has 1 row") && message.contains("never merges"))
            #expect(try await target.accounts() == [existing])
            #expect(try await target.ledgerEntries(account: nil, from: nil, to: nil, limit: 100).count == 2)
            #expect(try await target.recentUsage(limit: 10, keyID: nil).isEmpty)
            #expect(try await target.nodes().isEmpty)
            #expect(try await target.users(accountID: nil).isEmpty)
        }
    }

    /// A Hub started once on the new database wrote its catalog file there, and nothing else: the
    /// copy takes that database and replaces the catalog with the source's.
    @Test func aTargetAHubOnlyStartedOnTakesTheCopy() async throws {
        let source = try SQLiteStore.inMemory()
        let account = try await source.createAccount(name: "only", now: start)
        try await source.replaceCatalog(Catalog(models: [CatalogModel(id: "from-sqlite", type: .chat, ctx: 10)]))
        let target = try PostgresStore(url: try await PostgresTestServer.shared.database(), logger: logger)
        try await target.withRunning {
            try await target.migrate()
            try await target.replaceCatalog(.reference)
            let copied = try await StoreCopy.sqliteToPostgres(from: source, to: target)
            #expect(copied["account"] == 1 && copied["catalog_model"] == 1 && copied["usage"] == 0)
            #expect(try await target.accounts() == [account])
            #expect(try await target.catalog().models.map(\.id) == ["from-sqlite"])
        }
    }

    @Test func aSourceWhoseMigrationsDifferIsRefusedNamingThem() async throws {
        let newer = try SQLiteStore.inMemory()
        _ = try await newer.createAccount(name: "a", now: start)
        try await newer.writer.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-future')") }
        let older = try SQLiteStore.inMemory()
        try await older.writer.write { db in try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v6-ledger'") }
        let target = try PostgresStore(url: try await PostgresTestServer.shared.database(), logger: logger)
        try await target.withRunning {
            try await target.migrate()
            let refusedNewer = await #expect(throws: StoreError.self) { try await StoreCopy.sqliteToPostgres(from: newer, to: target) }
            #expect(String(describing: refusedNewer ?? .notFound("")).contains("it has v99-future, which this version's Postgres schema does not"))
            let refusedOlder = await #expect(throws: StoreError.self) { try await StoreCopy.sqliteToPostgres(from: older, to: target) }
            #expect(String(describing: refusedOlder ?? .notFound("")).contains("it lacks v6-ledger"))
            #expect(try await target.accounts().isEmpty)
        }
    }

    @Test func aMissingSourceFileIsNotCreated() throws {
        let path = try temporaryDatabase()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        #expect(throws: StoreError.self) { try SQLiteStore.openReadOnly(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
