import Foundation
import OpenAIWire
@testable import PortenHub
import Testing

struct PolicyTests {
    private func node(_ id: String, owner: String = "a", region: String = "eu", trust: TrustClass = .verified, model: String = "m") -> FleetNode {
        FleetNode(
            id: id, provisionable: false, vramBudgetMB: nil, concurrency: 4,
            models: [model: HostedModel(vramMB: 100, ready: true, lastUsed: .now)], owner: owner, region: region, trustClass: trust)
    }

    private let model = CatalogModel(id: "m", type: .chat, ctx: 1024, vramMB: 100)

    private func decide(_ policy: KeyPolicy, account: String = "a", _ nodes: [FleetNode]) -> Result<PolicyRouting.Route, APIError> {
        Result { () throws(APIError) in try PolicyRouting.decide(model: model, for: .init(account: account, policy: policy), nodes: nodes) { _ in 0 } }
    }

    @Test func storedPolicyColumnsThatCannotBeReadRestrict() {
        var key = SQLiteStore.newKey(accountID: "a", name: "k", policy: KeyPolicy(allowedRegions: ["eu"], minTrustClass: .trusted), now: Date()).key
        #expect(key.policy == KeyPolicy(allowedRegions: ["eu"], minTrustClass: .trusted))
        key.allowedRegions = "eu"  // not a JSON array
        key.modelAllowlist = #"{"m":1}"#
        key.minTrustClass = "platinum"
        #expect(key.policy == KeyPolicy(allowedRegions: [], minTrustClass: .confidential, modelAllowlist: []))
        #expect(!key.policy.allowsModel("m") && !key.policy.admits(owner: "a", region: "eu", trustClass: .confidential, keyAccount: "a"))
    }

    @Test func trustClassesAreOrdered() {
        #expect(TrustClass.community < .verified && .verified < .trusted && .trusted < .confidential)
        #expect(TrustClass.allCases.sorted() == TrustClass.allCases)
    }

    @Test func everyConstraintAppliesTogether() {
        let fleet = [
            node("us", region: "us", trust: .confidential), node("eu-low", trust: .community), node("eu-other", owner: "b", trust: .trusted),
            node("eu-own", trust: .trusted),
        ]
        let policy = KeyPolicy(allowedRegions: ["eu"], minTrustClass: .trusted, ownNodesOnly: true)
        #expect(decide(policy, fleet) == .success(.dispatch(nodeID: "eu-own")))
    }

    @Test(arguments: [
        (KeyPolicy(allowedRegions: ["eu"]), "this key is limited to region eu"),
        (KeyPolicy(allowedRegions: ["eu", "eu-de"]), "this key is limited to regions eu, eu-de"),
        (KeyPolicy(minTrustClass: .confidential), "this key needs nodes of trust class confidential or higher"),
        (KeyPolicy(ownNodesOnly: true), "this key is limited to its own account's nodes"),
    ])
    func refusalsNameTheConstraintThatLeftNoNode(policy: KeyPolicy, says: String) throws {
        let error = try #require(decide(policy, account: "mine", [node("n1", owner: "other", region: "ap-south", trust: .trusted)]).failure)
        #expect(error.status == 503 && error.code == "no_available_node")
        #expect(error.message.contains(says))
        #expect(!error.message.contains("n1") && !error.message.contains("other") && !error.message.contains("ap-south"))
    }

    @Test func allowListIsA403AndComesFirst() throws {
        let error = try #require(decide(KeyPolicy(modelAllowlist: ["x"]), [node("n1")]).failure)
        #expect(error.status == 403 && error.code == "model_not_allowed" && error.param == "model")
    }

    @Test func noNodeAtAllIsNotBlamedOnThePolicy() throws {
        let error = try #require(decide(KeyPolicy(allowedRegions: ["eu"]), []).failure)
        #expect(error.code == "no_available_node" && !error.message.contains("region"))
    }

    @Test func rateWindowAdmitsExactlyTheLimitAndSaysWhenToRetry() {
        let t0 = ContinuousClock.now
        var window = RateWindow()
        let admitted = (0..<10).filter { window.admit(now: t0 + .milliseconds($0), requestsPerMinute: 3, tokensPerMinute: nil) == nil }
        #expect(admitted == [0, 1, 2])
        #expect(window.admit(now: t0 + .seconds(30), requestsPerMinute: 3, tokensPerMinute: nil) == 30)
        #expect(window.admit(now: t0 + .seconds(60) + .milliseconds(1), requestsPerMinute: 3, tokensPerMinute: nil) == nil)
    }

    @Test func tokenLimitRefusesOnceTheMinutesTokensAreSpent() {
        let t0 = ContinuousClock.now
        var window = RateWindow()
        #expect(window.admit(now: t0, requestsPerMinute: nil, tokensPerMinute: 100) == nil)
        window.record(tokens: 60, at: t0 + .seconds(1))
        #expect(window.admit(now: t0 + .seconds(2), requestsPerMinute: nil, tokensPerMinute: 100) == nil)
        window.record(tokens: 60, at: t0 + .seconds(10))
        // 120 ≥ 100: wait until the first 60 leave the window (at 61 s).
        #expect(window.admit(now: t0 + .seconds(20), requestsPerMinute: nil, tokensPerMinute: 100) == 41)
    }

    @Test func aConcurrentBurstIsNeverOverAdmitted() async {
        let limiter = RateLimiter()
        let key = AuthenticatedKey(keyID: "k", accountID: "a", policy: KeyPolicy(requestsPerMinute: 7))
        let admitted = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 {
                group.addTask {
                    do throws(APIError) {
                        try await limiter.admit(key)
                        return true
                    } catch {
                        return error.status == 429 && error.code == "rate_limit_exceeded" && (error.retryAfter ?? 0) >= 1 ? false : true
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 7)
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { error } else { nil }
    }
}
