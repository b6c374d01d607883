import ServiceLifecycle

/// Runs `body` every `interval` until the service group shuts down gracefully or the task is
/// cancelled; a shutdown ends it quietly (no error for the service group to report).
func repeatUntilShutdown(every interval: Duration, _ body: @escaping @Sendable () async -> Void) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await body()
        }
    }
}
