import Foundation
import NodeProtocol
import Testing

@testable import PortenNode

/// The builtin engine's weights cache against a real loopback server (``WeightsTestServer``).
@Suite(.serialized)
struct WeightsStoreTests {
    typealias Server = WeightsTestServer

    private func load(_ model: String, _ url: String) -> TunnelMessage.Load {
        .init(model: model, downloadRef: url, sha256: Server.digest, diskMB: 3, vramMB: 10)
    }

    private func files(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    @Test func evictsTheLeastRecentlyUsedUnusedWeightsAndRefusesWhatCannotFit() async throws {
        try await Server.run { url, log in
            let directory = try Server.scratchDirectory()
            let store = WeightsStore(directory: directory, budgetMB: 7, downloader: WeightsDownloader())
            _ = try await store.ensure(load("a", url), inUse: []) { _, _ in }
            _ = try await store.ensure(load("b", url), inUse: []) { _, _ in }
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: store.file(for: "b").path)
            _ = try await store.ensure(load("a", url), inUse: []) { _, _ in }  // cached: used again, nothing fetched
            #expect(log.ranges.withLock { $0.count } == 2)

            _ = try await store.ensure(load("c", url), inUse: []) { _, _ in }
            #expect(try files(in: directory) == ["a.gguf", "c.gguf"], "b was the least recently used")

            let refused = await #expect(throws: EngineError.self) { try await store.ensure(load("d", url), inUse: ["a", "c"]) { _, _ in } }
            #expect(refused?.description.contains("PORTEN_AUTO_DOWNLOAD_MB=7") == true)
            #expect(try files(in: directory) == ["a.gguf", "c.gguf"], "nothing in use is dropped, nothing partial is left")
        }
    }

    @Test func anyModelIdIsOneFileNameAndMapsBack() async throws {
        try await Server.run { url, _ in
            let directory = try Server.scratchDirectory()
            let store = WeightsStore(directory: directory, budgetMB: 100, downloader: WeightsDownloader())
            let file = try await store.ensure(load("llama3.2:3b/q4", url), inUse: []) { _, _ in }
            #expect(file.lastPathComponent == "llama3.2%3A3b%2Fq4.gguf" && file.deletingLastPathComponent().path == directory.path)
            #expect(await store.cached().map(\.model) == ["llama3.2:3b/q4"])
        }
    }

    @Test func aDownloadRefThatIsNoHTTPURLIsRefused() async throws {
        let store = WeightsStore(directory: try Server.scratchDirectory(), budgetMB: 100, downloader: WeightsDownloader())
        let error = await #expect(throws: EngineError.self) {
            try await store.ensure(.init(model: "m", downloadRef: "hf://org/model", diskMB: 1, vramMB: 1), inUse: []) { _, _ in }
        }
        #expect(error?.description.contains("'hf://org/model'") == true)
    }
}
