import PortenHub
import Testing

/// The planner's decisions as scenario tables: fleet + demand + request → decision.
struct PlannerTests {
    static let t0 = ContinuousClock.now

    /// A model on a node: its VRAM, whether it is ready, requests in flight, seconds since last use.
    static func hosted(_ vram: Int, ready: Bool = true, inFlight: Int = 0, idleFor seconds: Int = 0) -> HostedModel {
        HostedModel(vramMB: vram, ready: ready, inFlight: inFlight, lastUsed: t0 - .seconds(seconds))
    }

    static func node(
        _ id: String, budget: Int? = nil, provisionable: Bool = true, concurrency: Int = 4, inFlight: Int = 0, _ models: [String: HostedModel] = [:],
        onDisk: Set<String> = []
    ) -> FleetNode {
        FleetNode(
            id: id, provisionable: provisionable, vramBudgetMB: budget, concurrency: concurrency, inFlight: inFlight, models: models, onDisk: onDisk)
    }

    struct RouteScenario: Sendable, CustomTestStringConvertible {
        var name: String
        var nodes: [FleetNode]
        var demand: [String: Int] = [:]
        var model = "m"
        var vram = 4000
        /// Seconds the oldest queued request for the model has waited (nil: nothing queued);
        /// a replica is due after 5 s.
        var queuedFor: Int?
        var expected: Planner.RouteDecision
        var testDescription: String { name }
    }

    static let routeScenarios: [RouteScenario] = [
        RouteScenario(
            name: "ready on two nodes: the one with fewer in flight",
            nodes: [node("a", inFlight: 2, ["m": hosted(4000)]), node("b", inFlight: 1, ["m": hosted(4000)]), node("c", ["x": hosted(10)])],
            expected: .dispatch(nodeID: "b")),
        RouteScenario(
            name: "ties broken by node id",
            nodes: [node("b", ["m": hosted(4000)]), node("a", ["m": hosted(4000)])], expected: .dispatch(nodeID: "a")),
        RouteScenario(
            name: "ready but every node saturated", nodes: [node("a", concurrency: 2, inFlight: 2, ["m": hosted(4000, inFlight: 2)])],
            expected: .saturated),
        RouteScenario(
            name: "a load under way is joined, not repeated",
            nodes: [node("a", budget: 8000, ["m": hosted(4000, ready: false)]), node("b", budget: 8000)], expected: .awaitLoad(nodeID: "a")),
        RouteScenario(
            name: "fits beside what is loaded", nodes: [node("a", budget: 8000, ["x": hosted(4000)])], demand: ["m": 1],
            expected: .load(nodeID: "a", evicting: [])),
        RouteScenario(
            name: "must evict the lower-demand model",
            nodes: [node("a", budget: 8000, ["hot": hosted(3000), "cold": hosted(3000)])], demand: ["m": 2, "hot": 5, "cold": 1],
            expected: .load(nodeID: "a", evicting: ["cold"])),
        RouteScenario(
            name: "never evicts a model with requests in flight",
            nodes: [node("a", budget: 8000, inFlight: 1, ["busy": hosted(6000, inFlight: 1)])], demand: ["m": 3], expected: .unplaceable),
        RouteScenario(
            name: "never evicts a model loading",
            nodes: [node("a", budget: 8000, ["other": hosted(6000, ready: false)])], demand: ["m": 3], expected: .unplaceable),
        RouteScenario(
            name: "does not evict a model in higher demand",
            nodes: [node("a", budget: 8000, ["x": hosted(6000)])], demand: ["m": 2, "x": 3], expected: .unplaceable),
        RouteScenario(
            name: "evicts an idle model of equal demand",
            nodes: [node("a", budget: 8000, ["x": hosted(6000)])], demand: ["m": 1, "x": 1], expected: .load(nodeID: "a", evicting: ["x"])),
        RouteScenario(
            name: "prefers the node whose eviction costs less demand",
            nodes: [node("a", budget: 8000, ["x": hosted(6000)]), node("b", budget: 8000, ["y": hosted(6000)])],
            demand: ["m": 9, "x": 4, "y": 2], expected: .load(nodeID: "b", evicting: ["y"])),
        RouteScenario(
            name: "prefers no eviction over any eviction",
            nodes: [node("a", budget: 8000, ["x": hosted(6000)]), node("b", budget: 16000, ["y": hosted(6000)])], demand: ["m": 9],
            expected: .load(nodeID: "b", evicting: [])),
        RouteScenario(
            name: "evicts lowest demand first, then least recently used, only as many as needed",
            nodes: [node("a", budget: 8000, ["p": hosted(2000, idleFor: 10), "q": hosted(2000, idleFor: 50), "r": hosted(2000, idleFor: 5), "s": hosted(2000)])],
            demand: ["m": 3, "s": 2], vram: 4000, expected: .load(nodeID: "a", evicting: ["q", "p"])),
        RouteScenario(
            name: "prefers the node with the weights on disk",
            nodes: [node("a", budget: 8000), node("b", budget: 8000, onDisk: ["m"])], expected: .load(nodeID: "b", evicting: [])),
        RouteScenario(
            name: "ties between equal placements broken by node id",
            nodes: [node("b", budget: 8000), node("a", budget: 8000)], expected: .load(nodeID: "a", evicting: [])),
        RouteScenario(
            name: "fixed nodes are never told to load",
            nodes: [node("a", budget: 80000, provisionable: false, ["x": hosted(10)])], expected: .unplaceable),
        RouteScenario(
            name: "a node without a VRAM budget is never told to load", nodes: [node("a")], expected: .unplaceable),
        RouteScenario(
            name: "a model larger than any budget is unplaceable", nodes: [node("a", budget: 3000)], expected: .unplaceable),
        RouteScenario(name: "an empty fleet", nodes: [], expected: .unplaceable),
        // Queue pressure: sustained queueing loads a replica, with the rules of a cold placement.
        RouteScenario(
            name: "queueing shorter than the threshold stays queued",
            nodes: [node("a", concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000)], queuedFor: 4,
            expected: .saturated),
        RouteScenario(
            name: "sustained queueing loads a replica on a provisionable node",
            nodes: [node("a", concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000)], queuedFor: 5,
            expected: .load(nodeID: "b", evicting: [])),
        RouteScenario(
            name: "a replica evicts only idle models of lower demand",
            nodes: [
                node("a", concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000, ["x": hosted(6000)]),
                node("c", budget: 8000, ["y": hosted(6000)]),
            ], demand: ["m": 9, "x": 20, "y": 3], queuedFor: 30, expected: .load(nodeID: "c", evicting: ["y"])),
        RouteScenario(
            name: "a replica never evicts a busy model: stays queued",
            nodes: [node("a", concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000, inFlight: 1, ["x": hosted(6000, inFlight: 1)])],
            demand: ["m": 9], queuedFor: 30, expected: .saturated),
        RouteScenario(
            name: "no node can take a replica: stays queued, never unplaceable",
            nodes: [node("a", budget: 4000, concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("f", provisionable: false)],
            queuedFor: 60, expected: .saturated),
        RouteScenario(
            name: "a replica already loading is waited for, not doubled",
            nodes: [node("a", concurrency: 1, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000, ["m": hosted(4000, ready: false)]),
                    node("c", budget: 8000)],
            queuedFor: 60, expected: .awaitLoad(nodeID: "b")),
        RouteScenario(
            name: "a free slot still wins over any replica",
            nodes: [node("a", concurrency: 2, inFlight: 1, ["m": hosted(4000, inFlight: 1)]), node("b", budget: 8000)], queuedFor: 60,
            expected: .dispatch(nodeID: "a")),
    ]

    @Test(arguments: routeScenarios)
    func route(_ scenario: RouteScenario) {
        let pressure = scenario.queuedFor.map { Planner.QueuePressure(depth: 1, longestWait: .seconds($0), replicaAfter: .seconds(5)) } ?? .none
        let decision = Planner.route(model: scenario.model, vramMB: scenario.vram, nodes: scenario.nodes, pressure: pressure) {
            scenario.demand[$0] ?? 0
        }
        #expect(decision == scenario.expected)
    }

    @Test func idleEvictionHappensAtTheWindowsEndAndNotASecondBefore() {
        let window = Duration.seconds(600)
        let fleet = [Self.node("a", budget: 8000, ["m": Self.hosted(1000, idleFor: 0)])]
        #expect(Planner.idleEvictions(nodes: fleet, now: Self.t0 + .seconds(599), window: window).isEmpty)
        #expect(Planner.idleEvictions(nodes: fleet, now: Self.t0 + .seconds(600), window: window) == [.init(nodeID: "a", model: "m")])
    }

    @Test func idleEvictionSparesFixedNodesLoadsAndBusyModels() {
        let fleet = [
            Self.node("fixed", provisionable: false, ["f": Self.hosted(10, idleFor: 5000)]),
            Self.node(
                "p", budget: 9000,
                ["busy": Self.hosted(10, inFlight: 1, idleFor: 5000), "loading": Self.hosted(10, ready: false, idleFor: 5000), "idle": Self.hosted(10, idleFor: 5000), "fresh": Self.hosted(10, idleFor: 10)]),
        ]
        #expect(Planner.idleEvictions(nodes: fleet, now: Self.t0, window: .seconds(600)) == [.init(nodeID: "p", model: "idle")])
    }

    @Test func demandCountsArrivalsWithinTheWindowOnly() {
        var ledger = DemandLedger(window: .seconds(60))
        ledger.record("m", at: Self.t0)
        ledger.record("m", at: Self.t0 + .seconds(30))
        ledger.record("x", at: Self.t0 + .seconds(30))
        #expect(ledger.demand(for: "m", now: Self.t0 + .seconds(59)) == 2)
        #expect(ledger.demand(for: "m", now: Self.t0 + .seconds(60)) == 1)
        #expect(ledger.demand(for: "m", now: Self.t0 + .seconds(90)) == 0)
        ledger.prune(now: Self.t0 + .seconds(60))
        #expect(ledger.snapshot(now: Self.t0 + .seconds(60)) == ["m": 1, "x": 1])
    }

    @Test func retryAfterFollowsTheObservedRate() {
        var progress = LoadProgress(totalMB: 1000, phaseStartedAt: Self.t0, lastHeardAt: Self.t0)
        #expect(progress.secondsRemaining(now: Self.t0 + .seconds(1)) == 5)  // no progress yet
        progress.update(.init(model: "m", phase: .downloading, doneMB: 250, totalMB: 1000), now: Self.t0 + .seconds(5))
        // 50 MB/s: 15 s left of the download + 1, doubled for loading.
        #expect(progress.secondsRemaining(now: Self.t0 + .seconds(5)) == 32)
        #expect(progress.percent == 25)
        progress.update(.init(model: "m", phase: .loading, doneMB: 500, totalMB: 1000), now: Self.t0 + .seconds(10))
        #expect(progress.phaseStartedAt == Self.t0 + .seconds(10))
        // 500 MB in 2 s of loading: 2 s left + 1.
        #expect(progress.secondsRemaining(now: Self.t0 + .seconds(12)) == 3)
    }
}
