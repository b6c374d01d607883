#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// TCP ports on 127.0.0.1: a free one for a new llama-server, and whether one accepts connections.
enum LoopbackPort {
    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    /// A port nothing listens on right now (the kernel's pick for port 0).
    static func free() throws -> Int {
        let port = withSocket(port: 0) { fd, address, length in
            var length = length
            guard bind(fd, address, length) == 0, getsockname(fd, address, &length) == 0 else { return nil as Int? }
            return Int(UInt16(bigEndian: address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }))
        }
        guard let port = port ?? nil else { throw Unavailable(description: "cannot bind a loopback port (errno \(errno))") }
        return port
    }

    /// Whether something accepts connections on `port` (a loopback connect answers at once).
    static func accepts(_ port: Int) -> Bool {
        withSocket(port: port) { fd, address, length in connect(fd, address, length) == 0 } ?? false
    }

    /// Runs `body` with a new TCP socket and the address 127.0.0.1:`port`; nil if no socket.
    private static func withSocket<Result>(port: Int, _ body: (Int32, UnsafeMutablePointer<sockaddr>, socklen_t) -> Result) -> Result? {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
