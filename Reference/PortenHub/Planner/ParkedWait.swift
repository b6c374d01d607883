import NIOCore
import NIOPosix
import Synchronization

/// Waits for an outcome someone else delivers, with cancellation that cannot be lost: `park`
/// runs with the continuation and either stores it (returning nil) or answers at once; it is
/// called when the task was already cancelled too, and must answer `cancelled` then, under the
/// same lock that stores waiters. On cancellation `unpark` takes the stored continuation back
/// (nil if it was already resumed) and it is resumed with `cancelled`.
/// Used by ``LoadSignal`` (loads), ``Mailbox`` (queue tickets) and ``EventChannel`` (a node's answer).
func parkedWait<Outcome: Sendable>(
    cancelled: Outcome, park: (CheckedContinuation<Outcome, Never>) -> Outcome?,
    unpark: @Sendable () -> CheckedContinuation<Outcome, Never>?
) async -> Outcome {
    await withTaskCancellationHandler {
        await withCheckedContinuation { continuation in
            if let immediate = park(continuation) { continuation.resume(returning: immediate) }
        }
    } onCancel: {
        unpark()?.resume(returning: cancelled)
    }
}

/// ``parkedWait(cancelled:park:unpark:)`` that also gives up after `limit` (nil: never),
/// answering `expired`: the limit is a timer on an event loop, not a task racing the wait (a
/// waiting request holds no task for it); the timer is cancelled as soon as the wait ends.
func parkedWait<Outcome: Sendable>(
    cancelled: Outcome, expired: Outcome, within limit: Duration?, park: (CheckedContinuation<Outcome, Never>) -> Outcome?,
    unpark: @escaping @Sendable () -> CheckedContinuation<Outcome, Never>?
) async -> Outcome {
    guard let limit else { return await parkedWait(cancelled: cancelled, park: park, unpark: unpark) }
    let timer = Mutex<Scheduled<Void>?>(nil)
    let outcome = await parkedWait(
        cancelled: cancelled,
        park: { continuation in
            if let immediate = park(continuation) { return immediate }
            let nanoseconds = limit / .nanoseconds(1)
            let scheduled = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(Int64(min(nanoseconds, Double(Int64.max / 2))))) {
                () -> Void in unpark()?.resume(returning: expired)
            }
            timer.withLock { $0 = scheduled }
            return nil
        }, unpark: unpark)
    timer.withLock { $0 }?.cancel()
    return outcome
}
