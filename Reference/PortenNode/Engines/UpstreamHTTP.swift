import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import OpenAIWire

/// HTTP to an engine's upstream server (an OpenAI endpoint, Ollama): JSON bodies, an optional
/// bearer key, timeouts, and every failure turned into the client's OpenAI error. A plain-HTTP
/// upstream is reached through pooled keep-alive connections (``UpstreamConnectionPool``), an
/// HTTPS one through AsyncHTTPClient.
struct UpstreamHTTP: Sendable {
    /// The base URL without trailing slashes; paths are appended to it.
    let baseURL: String
    let apiKey: String?
    let client: HTTPClient
    /// The pooled connections of a plain-HTTP upstream, and the base URL's path they prefix.
    private let connections: (pool: UpstreamConnectionPool, path: String)?

    init(baseURL: String, apiKey: String?, client: HTTPClient, connections pool: UpstreamConnectionPool? = nil) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.apiKey = apiKey
        self.client = client
        connections = PlainHTTPAddress(url).map { address in
            (pool ?? UpstreamConnectionPool(host: address.host, port: address.port), address.path)
        }
    }

    /// The same upstream under `path` appended to its base URL, sharing its connections.
    func appending(_ path: String) -> UpstreamHTTP {
        UpstreamHTTP(baseURL: baseURL + path, apiKey: apiKey, client: client, connections: connections?.pool)
    }

    /// One call; a non-2xx answer becomes ``UpstreamError/apiError(status:body:url:)``.
    func send(_ method: String, _ path: String, body: JSONValue? = nil, timeout: TimeAmount) async throws -> UpstreamResponse {
        let payload = body.map { ByteBuffer(string: JSONText.compactForUpstream($0)) }
        let response: UpstreamResponse
        do {
            if let (pool, prefix) = connections {
                var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: prefix + path)
                if let apiKey { head.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
                if payload != nil { head.headers.add(name: "Content-Type", value: "application/json") }
                response = try await pool.execute(head, body: payload, timeout: timeout)
            } else {
                var request = HTTPClientRequest(url: baseURL + path)
                request.method = .init(rawValue: method)
                if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
                if let payload {
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(payload)
                }
                let answer = try await client.execute(request, timeout: timeout)
                response = UpstreamResponse(status: Int(answer.status.code), headers: answer.headers, body: .init(answer.body))
            }
        } catch {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            throw EngineFailure(.nodeError("The node's engine is unreachable."), detail: "\(baseURL) is unreachable: \(error)")
        }
        guard (200..<300).contains(response.status) else {
            let bytes = (try? await response.body.collect(upTo: 1 << 20)).map { Array($0.readableBytesView) } ?? []
            throw UpstreamError.apiError(status: response.status, body: bytes, url: baseURL + path)
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
        guard let response = try? await send("GET", path, timeout: .seconds(5)) else { return false }
        _ = try? await response.body.collect(upTo: 1 << 20)  // read to its end: the connection is reused
        return true
    }
}

/// Host, port and path of an `http://` URL without user info; nil for anything else.
struct PlainHTTPAddress: Equatable {
    var host: String
    var port: Int
    var path: String

    init?(_ url: String) {
        guard url.lowercased().hasPrefix("http://") else { return nil }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        path = String(rest.dropFirst(authority.count))
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#") else { return nil }
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { return nil }
            portText = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return nil }
            host = String(parts[0])
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty else { return nil }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { return nil }
            self.port = port
        } else {
            port = 80
        }
    }
}
