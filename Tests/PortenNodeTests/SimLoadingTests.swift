import NodeProtocol
import OpenAIWire
import PortenNode
import Testing

/// The sim engine's simulated downloads, loads, VRAM and disk cache.
struct SimLoadingTests {
    /// 100 MB per 1 ms tick for downloads, 200 MB per tick for loads.
    private func engine(vram: Int = 8000, disk: Int = 200_000) -> SimEngine {
        SimEngine(
            models: ["ref-chat"],
            provisioning: SimProvisioning(vramBudgetMB: vram, diskBudgetMB: disk, downloadMBps: 100_000, loadMBps: 200_000, tick: .milliseconds(1)))
    }

    private func load(_ model: String, disk: Int = 300, vram: Int = 400, ref: String? = nil) -> TunnelMessage.Load {
        .init(model: model, downloadRef: ref, diskMB: disk, vramMB: vram)
    }

    private actor Reports {
        var frames: [TunnelMessage.Progress] = []
        func add(_ frame: TunnelMessage.Progress) { frames.append(frame) }
        var summary: [String] { frames.map { "\($0.phase.rawValue) \($0.doneMB)/\($0.totalMB)" } }
    }

    @Test func downloadsThenLoadsWithProgressInOrder() async throws {
        let engine = engine()
        let reports = Reports()
        try await engine.load(load("big")) { await reports.add($0) }
        #expect(
            await reports.summary == [
                "downloading 0/300", "downloading 100/300", "downloading 200/300", "downloading 300/300", "loading 0/400", "loading 200/400",
                "loading 400/400",
            ])
        #expect(await engine.models().map(\.id) == ["big", "ref-chat"])
        #expect(await engine.models().allSatisfy { $0.state == .ready })
    }

    @Test func weightsOnDiskSkipTheDownload() async throws {
        let engine = engine()
        try await engine.load(load("big")) { _ in }
        await engine.unload(model: "big")
        #expect(await engine.models().first { $0.id == "big" }?.state == .onDisk)
        let reports = Reports()
        try await engine.load(load("big")) { await reports.add($0) }
        #expect(await reports.summary == ["loading 0/400", "loading 200/400", "loading 400/400"])
    }

    @Test func refusesWhatDoesNotFitInVRAM() async throws {
        let engine = engine(vram: 1000)
        try await engine.load(load("a", vram: 600)) { _ in }
        await #expect(throws: EngineError.self) { try await engine.load(load("b", vram: 600)) { _ in } }
        await engine.unload(model: "a")
        try await engine.load(load("b", vram: 600)) { _ in }
    }

    @Test func aFailingDownloadLeavesNothingBehind() async throws {
        let engine = engine()
        let error = await #expect(throws: EngineError.self) {
            try await engine.load(load("broken", ref: SimProvisioning.failingDownloadRef)) { _ in }
        }
        #expect(error?.description.contains("simulated download failure") == true)
        #expect(await engine.models().map(\.id) == ["ref-chat"])
        try await engine.load(load("other", vram: 8000)) { _ in }  // the failed load's VRAM was given back
    }

    @Test func diskBudgetDropsTheLeastRecentlyUsedUnloadedWeights() async throws {
        let engine = engine(disk: 700)
        for model in ["a", "b"] {
            try await engine.load(load(model)) { _ in }
            await engine.unload(model: model)
        }
        try await engine.load(load("c")) { _ in }  // 900 MB > 700: "a" goes
        #expect(await engine.models().map(\.id) == ["b", "c", "ref-chat"])
    }

    @Test func aFixedSimNodeCannotLoadAndServesOnlyItsModels() async throws {
        let engine = SimEngine(models: ["ref-chat"])
        #expect(!engine.provisionable)
        await #expect(throws: EngineError.self) { try await engine.load(load("x")) { _ in } }
        let request = try ChatCompletionRequest(validating: .object(["model": "ref-tools", "messages": [["role": "user", "content": "hi"]]]))
        await #expect(throws: APIError.self) { _ = try await engine.chat(request, capabilities: []) { _ in } }
    }
}
