import CCurl
import Foundation

/// HTTP through libcurl: one easy handle per request, a hard timeout on every request, the body
/// captured as bytes, streams included.
public struct CurlClient: Sendable {
    /// Whole-request limit; a stream that never ends fails here instead of hanging the suite.
    public var timeoutMilliseconds: Int
    public var connectTimeoutMilliseconds: Int

    public init(timeoutMilliseconds: Int = 60_000, connectTimeoutMilliseconds: Int = 5_000) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        _ = Self.globalInit
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public struct TransportError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Collects what libcurl hands the callbacks.
    private final class Sink {
        var body: [UInt8] = []
        var headerLines: [String] = []
    }

    public func send(_ request: HTTPExchange.Request) throws(TransportError) -> HTTPExchange {
        guard let curl = curl_easy_init() else { throw TransportError(description: "curl_easy_init failed") }
        defer { curl_easy_cleanup(curl) }
        let sink = Sink()
        let context = Unmanaged.passUnretained(sink).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { list = curl_slist_append(list, "\(header.name): \(header.value)") }
        if request.body != nil, !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            list = curl_slist_append(list, "Content-Type: application/json")
        }
        list = curl_slist_append(list, "Expect:")  // no 100-continue round trip
        defer { curl_slist_free_all(list) }
        _ = cc_setopt_string(curl, CURLOPT_URL, request.url)
        _ = cc_setopt_string(curl, CURLOPT_CUSTOMREQUEST, request.method)
        _ = cc_setopt_slist(curl, CURLOPT_HTTPHEADER, list)
        _ = cc_setopt_long(curl, CURLOPT_TIMEOUT_MS, timeoutMilliseconds)
        _ = cc_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, connectTimeoutMilliseconds)
        _ = cc_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
        _ = cc_setopt_callback(curl, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        _ = cc_setopt_pointer(curl, CURLOPT_WRITEDATA, context)
        _ = cc_setopt_callback(curl, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            sink.headerLines.append(String(decoding: UnsafeRawBufferPointer(start: data, count: size * count), as: UTF8.self))
            return size * count
        }
        _ = cc_setopt_pointer(curl, CURLOPT_HEADERDATA, context)
        let code: CURLcode = (request.body ?? []).withUnsafeBufferPointer { body in
            if request.body != nil {
                _ = cc_setopt_pointer(curl, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: body.baseAddress ?? UnsafePointer(bitPattern: 1)!))
                _ = cc_setopt_long(curl, CURLOPT_POSTFIELDSIZE, body.count)
            }
            return curl_easy_perform(curl)
        }
        guard code == CURLE_OK else {
            throw TransportError(description: "\(request.method) \(request.url): \(String(cString: curl_easy_strerror(code)))")
        }
        var status = 0
        _ = cc_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        return HTTPExchange(status: status, headers: Self.headers(of: sink.headerLines), body: sink.body)
    }

    /// The header fields of the last response (after any interim 1xx responses).
    static func headers(of lines: [String]) -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        for line in lines {
            if line.hasPrefix("HTTP/") {
                fields = []
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            fields.append((name, value))
        }
        return fields
    }
}
