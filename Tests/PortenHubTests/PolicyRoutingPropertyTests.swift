import OpenAIWire
import PortenHub
import PropertyBased
import Testing

/// Fail-closed routing, checked over random fleets, keys and node failures: no request is ever
/// routed to, or makes load, a node its key's policy excludes, and every refusal is the right one.
struct PolicyRoutingPropertyTests {
    static let accounts = ["acct_a", "acct_b", "acct_c"]
    static let regions = ["eu", "us", "eu-de", "ap"]
    static let models = [
        CatalogModel(id: "m1", type: .chat, ctx: 4096, vramMB: 2000), CatalogModel(id: "m2", type: .chat, ctx: 4096, vramMB: 4000),
        CatalogModel(id: "m3", type: .chat, ctx: 4096, vramMB: 6000),
    ]

    struct Scenario: Sendable, CustomStringConvertible {
        var fleet: [FleetNode]
        /// The nodes still connected after the random failures.
        var live: [FleetNode]
        var caller: PolicyRouting.Caller
        var model: CatalogModel
        var demand: [String: Int]

        var description: String {
            "model \(model.id), key \(caller), demand \(demand), live \(live.map { "\($0.id)[\($0.owner) \($0.region) \($0.trustClass) \($0.models.keys.sorted())]" })"
        }
    }

    static func subset<T>(_ items: [T], using rng: inout any SeededRandomNumberGenerator) -> [T] {
        items.filter { _ in Bool.random(using: &rng) }
    }

    static let scenarios = Generator<Scenario, Shrink.None<Scenario>> { rng in
        let time = ContinuousClock.now
        let fleet = (0..<Int.random(in: 0...6, using: &rng)).map { index -> FleetNode in
            let concurrency = Int.random(in: 1...3, using: &rng)
            var node = FleetNode(
                id: "node_\(index)", provisionable: Bool.random(using: &rng), vramBudgetMB: [nil, 4000, 8000, 16000].randomElement(using: &rng)!,
                concurrency: concurrency, inFlight: Int.random(in: 0...concurrency, using: &rng), owner: accounts.randomElement(using: &rng)!,
                region: regions.randomElement(using: &rng)!, trustClass: TrustClass.allCases.randomElement(using: &rng)!)
            for model in subset(models, using: &rng) {
                node.models[model.id] = HostedModel(
                    vramMB: model.vramMB, ready: Int.random(in: 0..<4, using: &rng) > 0, inFlight: Int.random(in: 0...1, using: &rng),
                    lastUsed: time - .seconds(Int.random(in: 0...900, using: &rng)))
            }
            node.onDisk = Set(subset(models.map(\.id), using: &rng))
            return node
        }
        let policy = KeyPolicy(
            allowedRegions: Bool.random(using: &rng) ? nil : Array(subset(regions, using: &rng).prefix(3)).nonEmpty ?? ["eu"],
            minTrustClass: Bool.random(using: &rng) ? nil : TrustClass.allCases.randomElement(using: &rng),
            ownNodesOnly: Int.random(in: 0..<3, using: &rng) == 0,
            modelAllowlist: Int.random(in: 0..<4, using: &rng) == 0 ? subset(models.map(\.id), using: &rng) : nil)
        return Scenario(
            fleet: fleet, live: fleet.filter { _ in Int.random(in: 0..<5, using: &rng) > 0 },
            caller: .init(account: accounts.randomElement(using: &rng)!, policy: policy), model: models.randomElement(using: &rng)!,
            demand: Dictionary(uniqueKeysWithValues: models.map { ($0.id, Int.random(in: 0...5, using: &rng)) }))
    }

    static func admits(_ caller: PolicyRouting.Caller, _ node: FleetNode) -> Bool {
        (!caller.policy.ownNodesOnly || node.owner == caller.account)
            && (caller.policy.allowedRegions.map { $0.contains(node.region) } ?? true)
            && (caller.policy.minTrustClass.map { node.trustClass >= $0 } ?? true)
    }

    static func decide(_ scenario: Scenario, nodes: [FleetNode]) -> Result<PolicyRouting.Route, APIError> {
        Result { () throws(APIError) in
            try PolicyRouting.decide(model: scenario.model, for: scenario.caller, nodes: nodes) { scenario.demand[$0] ?? 0 }
        }
    }

    @Test func noRequestIsRoutedOrLoadedOutsideItsKeysPolicy() async {
        await propertyCheck(count: 10_000, input: Self.scenarios) { scenario in
            let compliant = scenario.live.filter { Self.admits(scenario.caller, $0) }
            let outcome = Self.decide(scenario, nodes: scenario.live)
            switch outcome {
            case .success(let route):
                #expect(scenario.caller.policy.allowsModel(scenario.model.id))
                guard let nodeID = route.nodeID else {
                    // Queued: some compliant node has the model ready, and every one that has it is busy.
                    let serving = compliant.filter { $0.models[scenario.model.id]?.ready == true }
                    #expect(!serving.isEmpty && serving.allSatisfy { !$0.hasFreeSlot }, "queued while a compliant node had a free slot")
                    break
                }
                let node = try #require(scenario.live.first { $0.id == nodeID }, "routed to a node that is not connected")
                #expect(Self.admits(scenario.caller, node), "routed outside the key's policy")
                if case .dispatch = route { #expect(node.models[scenario.model.id]?.ready == true && node.hasFreeSlot) }
                if case .load(_, let evicting) = route {
                    #expect(node.provisionable)
                    #expect(evicting.allSatisfy { node.models[$0]?.evictable == true }, "evicted a busy or loading model")
                }
            case .failure(let error):
                if !scenario.caller.policy.allowsModel(scenario.model.id) {
                    #expect(error.status == 403 && error.code == "model_not_allowed")
                } else {
                    #expect(error.status == 503 && error.code == "no_available_node" && (error.retryAfter ?? 0) >= 1)
                    // Refused only when no compliant node could take it right now.
                    #expect(!compliant.contains { $0.models[scenario.model.id]?.ready == true && $0.hasFreeSlot })
                    #expect(!compliant.contains { $0.models[scenario.model.id]?.ready == false })
                    // The message names no node.
                    #expect(!scenario.fleet.contains { error.message.contains($0.id) })
                }
            }
            // Nodes the key may not use have no influence at all: not on the choice, not on refusals.
            let onlyCompliant = Self.decide(scenario, nodes: compliant)
            switch (outcome, onlyCompliant) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure(let a), .failure(let b)): #expect(a.status == b.status && a.code == b.code)
            default: Issue.record("non-compliant nodes changed the outcome: \(outcome) vs \(onlyCompliant)")
            }
        }
    }
}

extension Array {
    fileprivate var nonEmpty: Self? { isEmpty ? nil : self }
}
