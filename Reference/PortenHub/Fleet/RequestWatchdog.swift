import ServiceLifecycle

/// Ends requests whose node went silent: after `idleTimeout` without a frame for a request, the
/// client gets `504 gateway_timeout` (or an error event mid-stream) and the node a `cancel`.
/// One periodic sweep for the whole fleet, so no request needs a timer task of its own.
struct RequestWatchdog: Service {
    let registry: NodeRegistry
    let idleTimeout: Duration
    let interval: Duration

    func run() async {
        await repeatUntilShutdown(every: interval) { await sweep(now: .now) }
    }

    /// Expires every request silent since `now - idleTimeout`.
    func sweep(now: ContinuousClock.Instant) async {
        for connection in await registry.connections() {
            connection.expireRequests(silentSince: now - idleTimeout, timeout: idleTimeout)
        }
    }
}
