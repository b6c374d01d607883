import Foundation
import Testing

@testable import PortenHub

struct PasswordHasherTests {
    /// Cheap parameters keep the test fast; the stored form carries them.
    let hasher = PasswordHasher(logN: 10, r: 8, p: 1)

    @Test func aHashVerifiesOnlyItsPassword() {
        let stored = hasher.hash("correct horse battery")
        #expect(stored.hasPrefix("scrypt$10$8$1$"))
        #expect(PasswordHasher.verify("correct horse battery", against: stored))
        #expect(!PasswordHasher.verify("correct horse batterY", against: stored))
        #expect(!PasswordHasher.verify("", against: stored))
        // Salted: the same password hashes differently each time.
        #expect(hasher.hash("correct horse battery") != stored)
        #expect(!stored.contains("correct"))
    }

    @Test func malformedOrAbusiveStoredFormsNeverVerify() {
        let stored = hasher.hash("pw-1234567890")
        let parts = stored.split(separator: "$").map(String.init)
        for bad in [
            "", "scrypt", "bcrypt$10$8$1$\(parts[4])$\(parts[5])", "scrypt$10$8$1$\(parts[4])$",
            "scrypt$30$8$1$\(parts[4])$\(parts[5])",  // 2³⁰ would take gigabytes: refused before deriving
            "scrypt$10$8$1$!!$\(parts[5])", "scrypt$10$8$1$\(parts[4])$\(parts[4])",
        ] {
            #expect(!PasswordHasher.verify("pw-1234567890", against: bad), "\(bad)")
        }
    }

    @Test func theStandardCostIsTheDocumentedOne() {
        #expect(PasswordHasher.standard.logN == 15 && PasswordHasher.standard.r == 8 && PasswordHasher.standard.p == 1)
    }
}

struct SignInThrottleTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func fiveAttemptsForAnEmailMakeItWaitAndTheWaitDoubles() {
        let throttle = SignInThrottle()
        for attempt in 0..<5 {
            #expect(throttle.admit(email: "a@x.io", address: "10.0.0.1", now: start + Double(attempt)) == nil)
        }
        // Counted on admission: the sixth waits even though no answer came back yet.
        #expect(throttle.admit(email: "a@x.io", address: "10.0.0.2", now: start + 4) == 4)
        #expect(throttle.admit(email: "b@x.io", address: "10.0.0.1", now: start + 4) == nil)
        #expect(throttle.admit(email: "a@x.io", address: nil, now: start + 8) == nil)
        #expect(throttle.admit(email: "a@x.io", address: nil, now: start + 8) == 8)
        throttle.succeeded(email: "a@x.io", address: nil)
        #expect(throttle.admit(email: "a@x.io", address: nil, now: start + 9) == nil)
    }

    @Test func aBurstIsCountedAsItArrives() {
        let throttle = SignInThrottle()
        let admitted = (0..<80).filter { _ in throttle.admit(email: "a@x.io", address: "10.0.0.1", now: start) == nil }
        #expect(admitted.count == 5)
    }

    @Test func oneAddressTryingManyEmailsIsSlowedToo() {
        let throttle = SignInThrottle()
        for attempt in 0..<20 {
            #expect(throttle.admit(email: "user\(attempt)@x.io", address: "10.9.9.9", now: start) == nil)
        }
        #expect(throttle.admit(email: "fresh@x.io", address: "10.9.9.9", now: start) == 4)
        #expect(throttle.admit(email: "fresh@x.io", address: "10.1.1.1", now: start) == nil)
        // A right password gives the address its attempt back.
        throttle.succeeded(email: "user0@x.io", address: "10.9.9.9")
        #expect(throttle.admit(email: "other@x.io", address: "10.9.9.9", now: start) == nil)
    }

    @Test func theWaitIsCappedAndFailuresAgeOut() {
        let throttle = SignInThrottle()
        for _ in 0..<40 { _ = throttle.admit(email: "a@x.io", address: nil, now: start - 1000) }
        #expect(throttle.admit(email: "a@x.io", address: nil, now: start) == nil)
        // A patient guesser who always waits out the back-off: it doubles up to 15 minutes.
        var time = start
        var waits: [TimeInterval] = []
        for _ in 0..<60 {
            if let wait = throttle.admit(email: "b@x.io", address: nil, now: time) {
                waits.append(wait)
                time += wait
            }
        }
        #expect(Array(waits.prefix(5)) == [4, 8, 16, 32, 64])
        #expect(waits.max() == 900 && waits.contains(512))
    }

    @Test func hashingSlotsAreBounded() {
        let throttle = SignInThrottle(maximumHashes: 2)
        #expect(throttle.startHashing() && throttle.startHashing())
        #expect(!throttle.startHashing())
        throttle.endHashing()
        #expect(throttle.startHashing())
    }
}

struct PortalStoreTests {
    let hash = PasswordHasher(logN: 10, r: 8, p: 1).hash("pw-1234567890")

    @Test(arguments: StoreEngine.allCases) func aPasswordLinkWorksOnceAndExpires(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let user = try await store.createUser(accountID: account.id, email: "Ada@Example.com", displayName: "Ada", role: .owner)
            #expect(user.email == "ada@example.com")
            let now = Date()
            let link = try await store.createPasswordLink(userID: user.id, lifetime: 60, now: now)
            #expect(try await store.passwordLinkUser(link, now: now + 61) == nil)
            #expect(try await store.passwordLinkUser(String(link.dropLast()) + (link.hasSuffix("x") ? "y" : "x"), now: now) == nil)
            #expect(try await store.usePasswordLink(link, passwordHash: hash, now: now)?.id == user.id)
            #expect(try await store.usePasswordLink(link, passwordHash: hash, now: now) == nil)
            #expect(try await store.user(email: "ADA@example.com")?.passwordHash == hash)
        }
    }

    @Test(arguments: StoreEngine.allCases) func emailsAreUnique(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            _ = try await store.createUser(accountID: account.id, email: "ada@example.com", displayName: "Ada", role: .owner)
            await #expect(throws: StoreError.self) {
                try await store.createUser(accountID: account.id, email: "ADA@example.com", displayName: "Ada 2", role: .member)
            }
            await #expect(throws: StoreError.self) { try await store.signUp(email: "ada@example.com", displayName: "Ada", passwordHash: hash) }
            // A refused user leaves no empty account behind.
            #expect(try await store.accounts().count == 1)
            await #expect(throws: StoreError.self) { try await store.createUser(accountID: "acct_nope", email: "new@x.io", displayName: "N", role: .member) }
            let fresh = try await store.createUser(accountID: nil, email: "new@x.io", displayName: "Nia", role: .owner)
            #expect(try await store.accounts().map(\.name) == ["acme", "Nia"] && fresh.accountID != account.id)
        }
    }

    @Test(arguments: StoreEngine.allCases) func sessionsEndOnExpiryDisableSignOutAndNewPassword(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let user = try await store.createUser(accountID: account.id, email: "a@x.io", displayName: "A", role: .owner, passwordHash: hash)
            let now = Date()
            let token = try await store.createSession(userID: user.id, lifetime: 3600, now: now)
            let identity = try #require(try await store.session(token, now: now))
            #expect(identity.user.id == user.id && identity.account.id == account.id && identity.csrfToken.count == 32)
            #expect(try await store.session(token, now: now + 3601) == nil)
            #expect(try await store.session("", now: now) == nil)
            #expect(try await store.session(String(repeating: "x", count: 10_000), now: now) == nil)

            let second = try await store.createSession(userID: user.id, lifetime: 3600, now: now)
            try await store.deleteSession(second)
            #expect(try await store.session(second, now: now) == nil)
            #expect(try await store.session(token, now: now) != nil)

            try await store.setPassword(userID: user.id, hash: hash)
            #expect(try await store.session(token, now: now) == nil)

            let third = try await store.createSession(userID: user.id, lifetime: 3600, now: now)
            try await store.disableAccount(id: account.id)
            #expect(try await store.session(third, now: now) == nil)
        }
    }

    /// On SQLite, read back raw (the Postgres engine writes the same records).
    @Test func theStoreKeepsOnlyHashesOfSessionsAndLinks() async throws {
        let store = try SQLiteStore.inMemory()
        let account = try await store.createAccount(name: "acme")
        let user = try await store.createUser(accountID: account.id, email: "a@x.io", displayName: "A", role: .owner, passwordHash: hash)
        let token = try await store.createSession(userID: user.id, lifetime: 3600)
        let link = try await store.createPasswordLink(userID: user.id)
        let dump = try await store.writer.read { db in
            try String(describing: SessionRecord.fetchAll(db)) + String(describing: PasswordLink.fetchAll(db))
        }
        #expect(!dump.contains(token) && !dump.contains(link))
    }

    @Test(arguments: StoreEngine.allCases) func thePlaygroundKeyIsOnePerAccountAndReplacedWhenRevoked(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let account = try await store.createAccount(name: "acme")
            let first = try await store.playgroundKey(accountID: account.id)
            #expect(try await store.playgroundKey(accountID: account.id) == first)
            #expect(try await store.keys(accountID: account.id).map(\.purpose) == ["playground"])
            try await store.revokeKey(id: first.keyID)
            #expect(try await store.playgroundKey(accountID: account.id).keyID != first.keyID)
        }
    }

    @Test(arguments: StoreEngine.allCases) func dailyUsageGroupsAnAccountsRowsByDayAndModel(_ engine: StoreEngine) async throws {
        try await engine.withStore { store in
            let day = Date(timeIntervalSince1970: 1_795_996_800)  // 2026-11-30 00:00 UTC
            func row(_ account: String, _ model: String, _ time: Date, _ tokens: Int) -> UsageRecord {
                UsageRecord(
                    time: time, requestID: UUID().uuidString, keyID: "k", accountID: account, nodeID: nil, region: nil, model: model,
                    endpoint: "chat.completions", promptTokens: tokens, completionTokens: 1, status: 200, latencyMS: 1, timeToFirstTokenMS: nil)
            }
            try await store.insertUsage([
                row("a", "m1", day + 10, 5), row("a", "m1", day + 20, 7), row("a", "m2", day + 30, 1), row("a", "m1", day - 10, 100),
                row("b", "m1", day + 10, 1000),
            ])
            let rows = try await store.dailyUsage(accountID: "a", since: day - 86_400)
            #expect(rows.map(\.day) == ["2026-11-29", "2026-11-30", "2026-11-30"])
            #expect(rows[1] == DailyUsage(day: "2026-11-30", model: "m1", requests: 2, promptTokens: 12, completionTokens: 2))
            #expect(try await store.dailyUsage(accountID: "a", since: day).count == 2)
        }
    }
}

struct PortalPageTests {
    @Test func afterSignInOnlyLocalPathsAreFollowed() {
        #expect(SignInController.safeNext("/build/keys?x=1") == "/build/keys?x=1")
        for hostile in [nil, "", "https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/ok\r\nSet-Cookie: x=1"] {
            #expect(SignInController.safeNext(hostile) == "/build/playground", "\(String(describing: hostile))")
        }
    }

    @Test func formsDecodeRepeatedFieldsAndEncodings() {
        let form = FormFields(urlEncoded: "name=a+b%26c&region=eu&region=us&empty=&flag&bad=%ZZ")
        #expect(form["name"] == "a b&c")
        #expect(form.all("region") == ["eu", "us"])
        #expect(form["empty"] == "" && form.text("empty") == nil)
        #expect(form["flag"] == "")
        #expect(form["bad"] == "")
        #expect(form["missing"] == nil)
    }

    @Test func theKeyFormBecomesTheAdminAPIsPolicy() async throws {
        let form = FormFields(urlEncoded: "region=eu&own_nodes_only=1&min_trust_class=verified&model=ref-chat&requests_per_minute=60&tokens_per_minute=")
        let policy = try KeyPolicyFields.parse(try .init(BuildController.policyJSON(form)), base: .unrestricted)
        #expect(policy == KeyPolicy(allowedRegions: ["eu"], minTrustClass: .verified, ownNodesOnly: true, modelAllowlist: ["ref-chat"], requestsPerMinute: 60))
        let open = try KeyPolicyFields.parse(try .init(BuildController.policyJSON(FormFields(urlEncoded: "name=x"))), base: .unrestricted)
        #expect(open == .unrestricted)
        #expect(throws: (any Error).self) {
            try KeyPolicyFields.parse(try .init(BuildController.policyJSON(FormFields(urlEncoded: "requests_per_minute=lots"))), base: .unrestricted)
        }
        #expect(throws: (any Error).self) {
            try KeyPolicyFields.parse(try .init(BuildController.policyJSON(FormFields(urlEncoded: "region=EU!"))), base: .unrestricted)
        }
    }

    @Test func everyTemplateParsesAndEscapes() {
        let pages = PortalPages()
        for name in PortalTemplates.all.keys { #expect(pages.library.getTemplate(named: name) != nil, "\(name)") }
        struct Model { var heading = "<b>", message = "<script>x</script>", back = "\"/x", backLabel = "'" }
        let html = pages.library.render(Model(), withTemplate: "error") ?? ""
        #expect(html.contains("&lt;script&gt;x&lt;/script&gt;") && !html.contains("<script>") && html.contains("&quot;/x"))
    }

    @Test func theUsageChartHasABarPerDayScaledToTheBusiest() {
        let since = Date(timeIntervalSince1970: 1_795_996_800 - 2 * 86_400)
        let model = BuildController.usageModel(
            [
                DailyUsage(day: "2026-11-28", model: "m", requests: 1, promptTokens: 10, completionTokens: 0),
                DailyUsage(day: "2026-11-30", model: "m", requests: 2, promptTokens: 30, completionTokens: 10),
            ], days: 3, since: since)
        #expect(model.chart.bars.map(\.day) == ["2026-11-28", "2026-11-29", "2026-11-30"])
        #expect(model.chart.bars.map(\.tokens) == [10, 0, 40])
        #expect(model.chart.bars[2].height == model.chart.height - 4 && model.chart.bars[1].height == 0)
        #expect(model.chart.bars[0].height > 0 && model.chart.bars[0].height < model.chart.bars[2].height)
        #expect(model.totals.requests == 3 && model.totals.completionTokens == 10)
    }

    @Test func emailsAreCheckedAndNormalised() async throws {
        #expect(try EmailAddress.validated("  Ada@Example.COM ", param: "email") == "ada@example.com")
        for bad in ["", "ada", "ada@", "@x.io", "ada@localhost", "a b@x.io", "ada@x.io\n", "a@b@c.io", "ada@.io", "ada@x."] {
            #expect(throws: (any Error).self, "\(bad)") { try EmailAddress.validated(bad, param: "email") }
        }
    }
}
