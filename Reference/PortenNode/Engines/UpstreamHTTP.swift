import AsyncHTTPClient
import Foundation
import NIOCore
import OpenAIWire

/// HTTP to an engine's upstream server (an OpenAI endpoint, Ollama): JSON bodies, an optional
/// bearer key, timeouts, and every failure turned into the client's OpenAI error.
struct UpstreamHTTP: Sendable {
    /// The base URL without trailing slashes; paths are appended to it.
    let baseURL: String
    let apiKey: String?
    let client: HTTPClient

    init(baseURL: String, apiKey: String?, client: HTTPClient) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.client = client
    }

    /// One call; a non-2xx answer becomes ``UpstreamError/apiError(status:body:url:)``.
    func send(_ method: String, _ path: String, body: JSONValue? = nil, timeout: TimeAmount) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .init(rawValue: method)
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: JSONText.compactForUpstream(body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw EngineFailure(.nodeError("The node's engine is unreachable."), detail: "\(baseURL) is unreachable: \(error)")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
            throw UpstreamError.apiError(status: Int(response.status.code), body: bytes, url: baseURL + path)
        }
        return response
    }

    /// A whole JSON answer.
    func json(_ method: String, _ path: String, body: JSONValue? = nil, timeout: TimeAmount) async throws -> JSONValue {
        let response = try await send(method, path, body: body, timeout: timeout)
        do {
            return try JSONParser.parse(Array(try await response.body.collect(upTo: 256 << 20).readableBytesView))
        } catch let error as JSONParser.SyntaxError {
            throw EngineFailure(.nodeError("The node's engine answered with invalid JSON."), detail: "\(baseURL)\(path) answered invalid JSON: \(error)")
        }
    }

    /// Whether `GET path` answers 2xx within a few seconds.
    func answers(_ path: String) async -> Bool {
        (try? await send("GET", path, timeout: .seconds(5))) != nil
    }
}
