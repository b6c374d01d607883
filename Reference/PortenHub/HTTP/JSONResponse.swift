import Foundation
import Hummingbird
import OpenAIWire

/// Builds JSON responses with the Hub's encoder.
enum JSONResponse {
    /// The Hub's JSON: sorted keys (byte-stable output), unescaped slashes, ISO 8601 dates.
    static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let data = encode(value)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// JSON already written as text (``ChatCompletion/jsonText``).
    static func make(text: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The OpenAI error envelope for `error`, with `Retry-After` when it has one.
    static func make(_ error: APIError) -> Response {
        var headers = HTTPFields()
        if let retryAfter = error.retryAfter { headers[.retryAfter] = String(retryAfter) }
        return make(text: error.jsonText, status: HTTPResponse.Status(code: error.status), headers: headers)
    }
}
