import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import PortenNode

/// Downloads from a real HTTP server on loopback (``WeightsTestServer``).
@Suite(.serialized)
struct WeightsDownloaderTests {
    typealias Server = WeightsTestServer

    private func scratch() throws -> URL {
        try Server.scratchDirectory().appendingPathComponent("model.gguf")
    }

    private actor Progress {
        var reports: [(Int64, Int64)] = []
        func add(_ done: Int64, _ total: Int64) { reports.append((done, total)) }
    }

    @Test func downloadsWithProgressInOrderAndChecksTheHash() async throws {
        try await Server.run { url, _ in
            let destination = try scratch()
            let progress = Progress()
            try await WeightsDownloader().download(url, sha256: Server.digest.uppercased(), to: destination) { await progress.add($0, $1) }
            #expect(try Data(contentsOf: destination) == Data(Server.payload))
            let reports = await progress.reports
            #expect(reports.first! == (0, 3_000_000) && reports.last! == (3_000_000, 3_000_000))
            #expect(reports.map(\.0) == reports.map(\.0).sorted() && reports.count >= 3)
            #expect(!FileManager.default.fileExists(atPath: destination.path + ".partial"))
        }
    }

    @Test func resumesACutTransferWithARangeRequest() async throws {
        try await Server.run { url, log in
            let destination = try scratch()
            log.cutNext.withLock { $0 = true }
            await #expect(throws: (any Error).self) { try await WeightsDownloader().download(url, sha256: Server.digest, to: destination) { _, _ in } }
            let kept = try #require(try FileManager.default.attributesOfItem(atPath: destination.path + ".partial")[.size] as? NSNumber).intValue
            #expect(kept > 0 && kept < Server.payload.count)
            try await WeightsDownloader().download(url, sha256: Server.digest, to: destination) { _, _ in }
            #expect(log.ranges.withLock { $0 } == [nil, "bytes=\(kept)-"])
            #expect(try Data(contentsOf: destination) == Data(Server.payload))
        }
    }

    @Test func aRedirectedAndCutDownloadResumesAtTheTarget() async throws {
        try await Server.run { url, log in
            let destination = try scratch()
            let redirect = url.replacingOccurrences(of: "weights", with: "redirect")
            log.cutNext.withLock { $0 = true }
            await #expect(throws: (any Error).self) { try await WeightsDownloader().download(redirect, sha256: Server.digest, to: destination) { _, _ in } }
            try await WeightsDownloader().download(redirect, sha256: Server.digest, to: destination) { _, _ in }
            let ranges = log.ranges.withLock { $0 }
            #expect(ranges.count == 2 && ranges[0] == nil && ranges[1]?.hasPrefix("bytes=") == true, "the Range survives the redirect")
            #expect(try Data(contentsOf: destination) == Data(Server.payload))
        }
    }

    @Test func aSlowServerStillReportsProgressWhileBytesArrive() async throws {
        try await Server.run { url, _ in
            let destination = try scratch()
            let progress = Progress()
            let downloader = WeightsDownloader(reportInterval: .milliseconds(100))
            try await downloader.download(url.replacingOccurrences(of: "weights", with: "slow"), sha256: nil, to: destination) {
                await progress.add($0, $1)
            }
            let reports = await progress.reports
            let between = reports.filter { $0.0 > 0 && $0.0 < Int64(Server.slowSize) }
            #expect(between.count >= 2, "less than 1 MiB arrives over ~0.4 s: reports come by time")
            #expect(reports.map(\.0) == reports.map(\.0).sorted() && reports.last! == (Int64(Server.slowSize), Int64(Server.slowSize)))
        }
    }

    @Test func aHashMismatchFailsAndLeavesNoFileBehind() async throws {
        try await Server.run { url, _ in
            let destination = try scratch()
            let wrong = String(repeating: "0", count: 64)
            let error = await #expect(throws: WeightsDownloader.Failure.self) {
                try await WeightsDownloader().download(url, sha256: wrong, to: destination) { _, _ in }
            }
            #expect(error?.description.contains("SHA-256 mismatch") == true)
            #expect(!FileManager.default.fileExists(atPath: destination.path))
            #expect(!FileManager.default.fileExists(atPath: destination.path + ".partial"))
        }
    }
}

struct WeightsCacheTests {
    private let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func dropsTheLeastRecentlyUsedUnloadedFilesUntilTheDownloadFits() {
        let entries = [
            WeightsCache.Entry(model: "old", bytes: 40, lastUsed: t0), WeightsCache.Entry(model: "loaded", bytes: 30, lastUsed: t0 - 99),
            WeightsCache.Entry(model: "newer", bytes: 20, lastUsed: t0 + 5), WeightsCache.Entry(model: "newest", bytes: 10, lastUsed: t0 + 9),
        ]
        #expect(WeightsCache.evictions(entries, loaded: ["loaded"], budget: 200, incoming: 50) == [])
        #expect(WeightsCache.evictions(entries, loaded: ["loaded"], budget: 100, incoming: 50) == ["old", "newer"])
        #expect(WeightsCache.evictions(entries, loaded: ["loaded"], budget: 100, incoming: 71) == nil)  // the loaded 30 must stay
    }
}
