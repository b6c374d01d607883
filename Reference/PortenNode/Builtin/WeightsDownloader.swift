import AsyncHTTPClient
import Foundation
import NIOCore

/// Downloads model weights into the node's cache: into `<file>.partial`, resuming a partial file
/// with an HTTP `Range` request, hashing as it goes, checking the catalog's SHA-256 before the
/// file is used, and renaming it into place atomically. A failed check leaves nothing behind.
public struct WeightsDownloader: Sendable {
    public let client: HTTPClient
    /// Limit for one download; a stalled server fails instead of hanging the load.
    public var timeout: TimeAmount
    /// Progress is reported after every percent (at least a MiB), and at least this often while bytes arrive.
    public var reportInterval: Duration

    public init(client: HTTPClient = .shared, timeout: TimeAmount = .hours(6), reportInterval: Duration = .milliseconds(250)) {
        self.client = client
        self.timeout = timeout
        self.reportInterval = reportInterval
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Downloads `url` to `destination`, reporting (bytes done, bytes in all) as it goes.
    public func download(
        _ url: String, sha256 expected: String?, to destination: URL, progress: @Sendable (Int64, Int64) async -> Void
    ) async throws {
        let partial = destination.appendingPathExtension("partial")
        let files = FileManager.default
        let hash = SHA256Stream()
        var done = Int64(0)
        if let size = try? files.attributesOfItem(atPath: partial.path)[.size] as? NSNumber, size.int64Value > 0 {
            try Self.hashFile(partial, into: hash)
            done = size.int64Value
        } else {
            guard files.createFile(atPath: partial.path, contents: nil) else {
                throw Failure(description: "cannot create \(partial.path)")
            }
        }
        var request = HTTPClientRequest(url: url)
        if done > 0 { request.headers.add(name: "Range", value: "bytes=\(done)-") }
        let response = try await client.execute(request, timeout: timeout)
        let handle = try FileHandle(forWritingTo: partial)
        defer { try? handle.close() }
        switch response.status.code {
        case 206:
            try handle.seekToEnd()
        case 200:
            if done > 0 {  // the server ignored the Range: start over
                try handle.truncate(atOffset: 0)
                hash.reset()
                done = 0
            }
        default:
            throw Failure(description: "downloading \(url) failed with HTTP \(response.status.code)")
        }
        let total = done + (response.headers.first(name: "Content-Length").flatMap { Int64($0) } ?? 0)
        await progress(done, total)
        let clock = ContinuousClock()
        var lastReport = (bytes: done, at: clock.now)
        for try await buffer in response.body {
            buffer.withUnsafeReadableBytes { bytes in hash.update(bytes) }
            try handle.write(contentsOf: Data(buffer.readableBytesView))
            done += Int64(buffer.readableBytes)
            if done - lastReport.bytes >= max(1 << 20, total / 100) || clock.now - lastReport.at >= reportInterval {
                lastReport = (done, clock.now)
                await progress(done, max(total, done))
            }
        }
        try handle.close()
        await progress(done, max(total, done))
        let actual = hash.finish()
        if let expected, actual != expected.lowercased() {
            try? files.removeItem(at: partial)
            throw Failure(description: "SHA-256 mismatch for \(url): the catalog says \(expected), the download is \(actual); the file was deleted")
        }
        guard rename(partial.path, destination.path) == 0 else {  // atomic: the file is whole or absent
            throw Failure(description: "cannot move \(partial.path) into place (errno \(errno))")
        }
    }

    private static func hashFile(_ url: URL, into hash: SHA256Stream) throws {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            chunk.withUnsafeBytes { hash.update($0) }
        }
    }
}
