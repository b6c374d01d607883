import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// An upstream's answer: status, headers, and the body as it arrives.
struct UpstreamResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Body
    /// Says the reader has what it needs (an SSE stream's end) although the body has not ended:
    /// the rest is read and dropped, so a pooled connection can carry the next request instead
    /// of being closed. A reader that stops without saying so cuts the upstream off.
    var finishReading: @Sendable () -> Void = {}

    /// The body's buffers, from a pooled connection or from AsyncHTTPClient (HTTPS upstreams).
    struct Body: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        private enum Source: Sendable {
            case pooled(UpstreamExchangeHandler.Body)
            case client(HTTPClientResponse.Body)
        }

        private let source: Source

        init(_ pooled: UpstreamExchangeHandler.Body) { source = .pooled(pooled) }
        init(_ client: HTTPClientResponse.Body) { source = .client(client) }

        struct AsyncIterator: AsyncIteratorProtocol {
            fileprivate enum Iterator {
                case pooled(UpstreamExchangeHandler.Body.AsyncIterator)
                case client(HTTPClientResponse.Body.AsyncIterator)
            }

            fileprivate var iterator: Iterator

            mutating func next() async throws -> ByteBuffer? {
                switch iterator {
                case .pooled(let inner):
                    return try await inner.next()
                case .client(var inner):
                    defer { iterator = .client(inner) }
                    return try await inner.next()
                }
            }
        }

        func makeAsyncIterator() -> AsyncIterator {
            switch source {
            case .pooled(let sequence): AsyncIterator(iterator: .pooled(sequence.makeAsyncIterator()))
            case .client(let body): AsyncIterator(iterator: .client(body.makeAsyncIterator()))
            }
        }

        /// The whole body, at most `limit` bytes.
        func collect(upTo limit: Int) async throws -> ByteBuffer {
            var collected = ByteBuffer()
            for try await var buffer in self {
                guard collected.readableBytes + buffer.readableBytes <= limit else { throw UpstreamBodyTooLarge(limit: limit) }
                collected.writeBuffer(&buffer)
            }
            return collected
        }
    }
}

struct UpstreamBodyTooLarge: Error, CustomStringConvertible {
    var limit: Int
    var description: String { "the upstream's answer is larger than \(limit) bytes" }
}
