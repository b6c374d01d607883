import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import PortenNode

/// Downloads from a real HTTP server on loopback that honours `Range` and can cut a transfer.
@Suite(.serialized)
struct WeightsDownloaderTests {
    static let payload: [UInt8] = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    static let digest: String = {
        let hash = SHA256Stream()
        payload.withUnsafeBytes { hash.update($0) }
        return hash.finish()
    }()

    /// What the server saw, and whether it should cut the next transfer half way.
    final class ServerLog: Sendable {
        let ranges = Mutex<[String?]>([])
        let cutNext = Mutex(false)
    }

    private func withServer(_ body: @Sendable (String, ServerLog) async throws -> Void) async throws {
        let log = ServerLog()
        let router = Router()
        router.get("/weights.gguf") { request, _ -> Response in
            let range = request.headers[.range]
            log.ranges.withLock { $0.append(range) }
            let start = range.flatMap { Int($0.dropFirst(6).dropLast()) } ?? 0
            let slice = Array(Self.payload[start...])
            let cut = log.cutNext.withLock { cut in defer { cut = false }; return cut }
            var headers: HTTPFields = [.contentLength: String(slice.count)]
            if start > 0 { headers[.contentRange] = "bytes \(start)-\(Self.payload.count - 1)/\(Self.payload.count)" }
            return Response(status: start > 0 ? .partialContent : .ok, headers: headers, body: ResponseBody { writer in
                for chunk in stride(from: 0, to: slice.count, by: 256 << 10) {
                    if cut, chunk >= slice.count / 2 { throw CancellationError() }  // drop the connection half way
                    try await writer.write(ByteBuffer(bytes: slice[chunk..<min(chunk + (256 << 10), slice.count)]))
                }
                try await writer.finish(nil)
            })
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))/weights.gguf", log)
        }
    }

    private func scratch() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("model.gguf")
    }

    private actor Progress {
        var reports: [(Int64, Int64)] = []
        func add(_ done: Int64, _ total: Int64) { reports.append((done, total)) }
    }

    @Test func downloadsWithProgressInOrderAndChecksTheHash() async throws {
        try await withServer { url, _ in
            let destination = try scratch()
            let progress = Progress()
            try await WeightsDownloader().download(url, sha256: Self.digest.uppercased(), to: destination) { await progress.add($0, $1) }
            #expect(try Data(contentsOf: destination) == Data(Self.payload))
            let reports = await progress.reports
            #expect(reports.first! == (0, 3_000_000) && reports.last! == (3_000_000, 3_000_000))
            #expect(reports.map(\.0) == reports.map(\.0).sorted() && reports.count >= 3)
            #expect(!FileManager.default.fileExists(atPath: destination.path + ".partial"))
        }
    }

    @Test func resumesACutTransferWithARangeRequest() async throws {
        try await withServer { url, log in
            let destination = try scratch()
            log.cutNext.withLock { $0 = true }
            await #expect(throws: (any Error).self) { try await WeightsDownloader().download(url, sha256: Self.digest, to: destination) { _, _ in } }
            let kept = try #require(try FileManager.default.attributesOfItem(atPath: destination.path + ".partial")[.size] as? NSNumber).intValue
            #expect(kept > 0 && kept < Self.payload.count)
            try await WeightsDownloader().download(url, sha256: Self.digest, to: destination) { _, _ in }
            #expect(log.ranges.withLock { $0 } == [nil, "bytes=\(kept)-"])
            #expect(try Data(contentsOf: destination) == Data(Self.payload))
        }
    }

    @Test func aHashMismatchFailsAndLeavesNoFileBehind() async throws {
        try await withServer { url, _ in
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
