import Foundation

/// The engine of a `porten node` started without `--engine` (or PORTEN_ENGINE), as the
/// documentation promises: Ollama when one answers, else the built-in llama-server engine.
/// The `sim` engine is never chosen by default: its `Echo:` answers are for tests and demos.
enum EngineChoice {
    static func automatic(ollamaURL: String) -> String {
        ollamaAnswers(at: ollamaURL) ? "ollama" : "builtin"
    }

    /// Whether an HTTP server answers `GET /api/version` at `url` within a second (a plain
    /// blocking request: this runs once, before the agent starts).
    static func ollamaAnswers(at url: String) -> Bool {
        guard let components = URLComponents(string: url), components.scheme == "http", let host = components.host else { return false }
        let port = components.port ?? 80
        var hints = addrinfo(ai_flags: 0, ai_family: AF_UNSPEC, ai_socktype: Int32(SOCK_STREAM.rawValue), ai_protocol: 0,
            ai_addrlen: 0, ai_addr: nil, ai_canonname: nil, ai_next: nil)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let address = list else { return false }
        defer { freeaddrinfo(list) }
        let socket = Glibc.socket(address.pointee.ai_family, address.pointee.ai_socktype, 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(socket, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else { return false }
        let request = "GET /api/version HTTP/1.0\r\nHost: \(host)\r\n\r\n"
        guard request.withCString({ send(socket, $0, strlen($0), 0) }) > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = recv(socket, &buffer, buffer.count, 0)
        return count >= 12 && String(decoding: buffer[0..<count], as: UTF8.self).hasPrefix("HTTP/1.") && buffer[9] == UInt8(ascii: "2")
    }
}
