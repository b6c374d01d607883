import Logging
import ServiceLifecycle
import Synchronization

/// Writes usage rows off the request path: requests hand rows over without waiting, and a
/// background service inserts them in batches (flushing what is left on shutdown).
public final class UsageRecorder: Service {
    private let store: HubStore
    private let logger: Logger
    private let buffer = Mutex<[UsageRecord]>([])
    private let signals: AsyncStream<Void>
    private let signal: AsyncStream<Void>.Continuation

    public init(store: HubStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues one row; returns at once.
    public func record(_ record: UsageRecord) {
        buffer.withLock { $0.append(record) }
        signal.yield()
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            for await _ in signals { flush() }
        } onGracefulShutdown: {
            self.signal.finish()
        }
        flush()
    }

    /// Inserts every queued row now.
    public func flush() {
        let batch = buffer.withLock { rows in
            defer { rows.removeAll() }
            return rows
        }
        guard !batch.isEmpty else { return }
        do {
            try store.insertUsage(batch)
        } catch {
            logger.error("could not record \(batch.count) usage rows: \(error)")
        }
    }
}
