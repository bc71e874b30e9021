import NIOCore

/// Runs Swift tasks on a NIO event loop, so work that starts and ends on a connection's loop (decode,
/// handler, write) never hops to another thread.
///
/// Tasks given this preference must not block: they share the thread with the connection's I/O.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
