import Foundation

/// The open-files limit of the Hub process. Every client connection and node tunnel is a
/// descriptor, and a soft limit of 1,024 (common) lets a thousand idle sockets lock everyone out,
/// so the Hub raises its soft limit to the hard limit at start.
enum ProcessLimits {
    /// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit now in force.
    @discardableResult
    static func raiseOpenFiles() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Connections the Hub accepts at once with `openFiles` descriptors: a reserve of 256 for the
    /// database, node tunnels' upstreams and logs, at most 16,384, at least 64.
    static func defaultMaximumConnections(openFiles: Int) -> Int {
        min(16_384, max(64, openFiles - 256))
    }
}
