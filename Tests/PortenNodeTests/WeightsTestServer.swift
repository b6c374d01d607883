import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

@testable import PortenNode

/// A real HTTP server on loopback serving 3 MB of weights at `/weights.gguf`, honouring `Range`
/// and able to cut a transfer half way, redirecting `/redirect.gguf` there, and the first 512 KiB
/// at `/slow.gguf` in 32 KiB pieces 25 ms apart (a slow mirror).
enum WeightsTestServer {
    static let payload: [UInt8] = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
    static let digest: String = {
        let hash = SHA256Stream()
        payload.withUnsafeBytes { hash.update($0) }
        return hash.finish()
    }()
    static let slowSize = 512 << 10

    /// What the server saw, and whether it should cut the next transfer half way.
    final class Log: Sendable {
        let ranges = Mutex<[String?]>([])
        let cutNext = Mutex(false)
    }

    /// Runs `body` with the URL of `/weights.gguf` and the server's log.
    static func run(_ body: @Sendable (String, Log) async throws -> Void) async throws {
        let log = Log()
        let router = Router()
        router.get("/weights.gguf") { request, _ -> Response in
            let range = request.headers[.range]
            log.ranges.withLock { $0.append(range) }
            let start = range.flatMap { Int($0.dropFirst(6).dropLast()) } ?? 0
            let slice = Array(payload[start...])
            let cut = log.cutNext.withLock { cut in defer { cut = false }; return cut }
            var headers: HTTPFields = [.contentLength: String(slice.count)]
            if start > 0 { headers[.contentRange] = "bytes \(start)-\(payload.count - 1)/\(payload.count)" }
            return Response(status: start > 0 ? .partialContent : .ok, headers: headers, body: ResponseBody { writer in
                for chunk in stride(from: 0, to: slice.count, by: 256 << 10) {
                    if cut, chunk >= slice.count / 2 { throw CancellationError() }  // drop the connection half way
                    try await writer.write(ByteBuffer(bytes: slice[chunk..<min(chunk + (256 << 10), slice.count)]))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/redirect.gguf") { _, _ -> Response in  // as Hugging Face sends downloads to its CDN
            Response(status: .found, headers: [.location: "/weights.gguf"])
        }
        router.get("/slow.gguf") { _, _ -> Response in
            Response(status: .ok, headers: [.contentLength: String(slowSize)], body: ResponseBody { writer in
                for chunk in stride(from: 0, to: slowSize, by: 32 << 10) {
                    try await Task.sleep(for: .milliseconds(25))
                    try await writer.write(ByteBuffer(bytes: payload[chunk..<chunk + (32 << 10)]))
                }
                try await writer.finish(nil)
            })
        }
        try await Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0))).test(.live) { client in
            try await body("http://127.0.0.1:\(try #require(client.port))/weights.gguf", log)
        }
    }

    /// A new empty directory.
    static func scratchDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }
}
