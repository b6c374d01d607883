import NIOCore

/// Runs tasks on one NIO event loop: the node's request tasks run on the thread that reads and
/// writes its tunnel and its upstream connections, so a request crosses no thread between the
/// Hub's frame and the upstream's answer (each crossing is a wake-up and a context switch).
final class EventLoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
