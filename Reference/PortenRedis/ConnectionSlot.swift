import NIOCore
import Synchronization

/// The connection a client currently has, if any, and the commands waiting for one. A waiter is
/// given the next connection, or fails with ``RedisError/unavailable(_:)`` at its deadline, when
/// its task is cancelled, or when the slot closes.
final class ConnectionSlot: Sendable {
    private struct State {
        var connection: RedisConnection?
        var waiters: [Int: EventLoopPromise<RedisConnection>] = [:]
        var nextWaiter = 0
        var lastError: String?
        var isClosed = false
    }

    private let state = Mutex(State())
    private let endpoint: String

    init(endpoint: String) {
        self.endpoint = endpoint
    }

    var current: RedisConnection? {
        state.withLock { $0.connection }
    }

    /// Publishes a new connection and hands it to everything waiting.
    func connected(_ connection: RedisConnection) {
        let waiters = state.withLock { state -> [EventLoopPromise<RedisConnection>] in
            guard !state.isClosed else { return [] }
            state.connection = connection
            state.lastError = nil
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.succeed(connection) }
    }

    /// Forgets `connection` if it is the current one.
    func disconnected(_ connection: RedisConnection, reason: String) {
        state.withLock { state in
            guard state.connection === connection else { return }
            state.connection = nil
            state.lastError = reason
        }
    }

    /// Records why the last attempt to connect failed, for the next ``RedisError/unavailable(_:)``.
    func failedToConnect(_ reason: String) {
        state.withLock { $0.lastError = reason }
    }

    /// Closes the slot for good: waiters fail, and later waits fail at once.
    func close() {
        let waiters = state.withLock { state -> [EventLoopPromise<RedisConnection>] in
            state.isClosed = true
            state.connection = nil
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.fail(RedisError.unavailable("the client is shut down")) }
    }

    /// The current connection, or the next one if it comes before `deadline`.
    func connection(before deadline: NIODeadline, on eventLoop: any EventLoop) async throws -> RedisConnection {
        let promise = eventLoop.makePromise(of: RedisConnection.self)
        enum Outcome { case ready(RedisConnection), closed, waiting(Int) }
        let outcome = state.withLock { state -> Outcome in
            if state.isClosed { return .closed }
            if let connection = state.connection { return .ready(connection) }
            let id = state.nextWaiter
            state.nextWaiter += 1
            state.waiters[id] = promise
            return .waiting(id)
        }
        let id: Int
        switch outcome {
        case .ready(let connection):
            promise.succeed(connection)
            return connection
        case .closed:
            promise.fail(RedisError.unavailable("the client is shut down"))
            throw RedisError.unavailable("the client is shut down")
        case .waiting(let waiter):
            id = waiter
        }
        let timeout = eventLoop.scheduleTask(deadline: deadline) { [self] in
            give(up: id, because: RedisError.unavailable("no connection to \(endpoint) within the command timeout (\(reason))"))
        }
        promise.futureResult.whenComplete { _ in timeout.cancel() }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            give(up: id, because: CancellationError())
        }
    }

    private var reason: String {
        state.withLock { $0.lastError ?? "not connected yet" }
    }

    private func give(up id: Int, because error: any Error) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.fail(error)
    }
}
