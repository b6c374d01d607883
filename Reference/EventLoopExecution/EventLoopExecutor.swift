import NIOCore

/// Runs tasks on one NIO event loop, for the two ends of the tunnel: the node's request tasks run
/// on the thread that reads and writes its tunnel and its upstream connections, and the Hub reads
/// each node's frames on that tunnel's own thread, so a frame crosses no thread between the socket
/// and the code that routes it (each crossing is a wake-up and a context switch).
public final class EventLoopExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
