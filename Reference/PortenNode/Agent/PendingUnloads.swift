import Synchronization

/// The unloads of one tunnel session that were read and have not finished. Unloads run beside the
/// tunnel's reads (stopping a server can take its grace period), but a load read after an unload
/// waits for it: the node takes the Hub's frames in order, so the VRAM an eviction frees is free
/// when the load that needed it starts (docs/node-protocol.md). A load whose model the Hub unloads
/// while it waits (it gave up on the load) is called off.
final class PendingUnloads: Sendable {
    /// Marks the unloads read so far; a load waits for those, not for the ones read after it.
    struct Mark: Sendable { fileprivate let count: Int }

    private struct State {
        var read = 0
        var running: Set<Int> = []
        /// The last unload read for each model.
        var lastUnload: [String: Int] = [:]
        var waiters: [(mark: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// No unload read before `mark` still runs.
        func settled(_ mark: Int) -> Bool { mark <= running.min() ?? .max }
    }

    private let state = Mutex(State())

    /// An unload that was read; hand it to ``end(_:)`` when it has finished.
    struct Ticket: Sendable { fileprivate let number: Int }

    /// Call it as an unload frame is read, before the next frame is taken. Every ticket must be
    /// ended: unloads end on their own (the engine stops the server), so a load never waits forever.
    func begin(_ model: String) -> Ticket {
        state.withLock { state in
            defer { state.read += 1 }
            state.running.insert(state.read)
            state.lastUnload[model] = state.read
            return Ticket(number: state.read)
        }
    }

    func end(_ ticket: Ticket) {
        let ready = state.withLock { state in
            state.running.remove(ticket.number)
            let settled = state.running.min() ?? .max  // waiters with a mark up to it
            let ready = state.waiters.filter { $0.mark <= settled }
            state.waiters.removeAll { $0.mark <= settled }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// The unloads read so far; take it as a load frame is read.
    func mark() -> Mark { Mark(count: state.withLock { $0.read }) }

    /// Whether an unload of `model` was read after `mark`: the Hub gave up on the load that took it.
    func unloaded(_ model: String, since mark: Mark) -> Bool {
        state.withLock { ($0.lastUnload[model] ?? -1) >= mark.count }
    }

    /// Returns once every unload read before `mark` has finished.
    func wait(for mark: Mark) async {
        await withCheckedContinuation { continuation in
            let settled = state.withLock { state in
                guard state.settled(mark.count) else {
                    state.waiters.append((mark.count, continuation))
                    return false
                }
                return true
            }
            if settled { continuation.resume() }
        }
    }
}
