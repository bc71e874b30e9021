import NIOCore
import NIOPosix

/// Runs Swift tasks on a NIO event loop, so work that starts and ends on a connection's loop (decode,
/// handler, write) never hops to another thread.
///
/// Tasks given this preference must not block: they share the thread with the connection's I/O.
public final class EventLoopTaskExecutor: TaskExecutor {
    /// The loop the tasks run on.
    public let eventLoop: any EventLoop

    /// Creates an executor for `eventLoop`.
    public init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// An executor for the event loop the caller runs on, `nil` off the event loops: a task started with it
    /// stays on the caller's thread.
    public static var current: EventLoopTaskExecutor? {
        MultiThreadedEventLoopGroup.currentEventLoop.map { EventLoopTaskExecutor(eventLoop: $0) }
    }

    /// Runs `work` in a task on the event loop, then `completion` with its result on the loop: how a channel
    /// handler answers with async work. Call it on the loop; `completion` may use the handler and its context.
    /// The result comes back without a hop when the work ended on the loop, as it does unless it awaited an
    /// actor or another executor last.
    @inlinable
    public func run<Result: Sendable>(_ work: @escaping @Sendable () async -> Result, then completion: @escaping (Result) -> Void) {
        let loop = self.eventLoop
        let completion = NIOLoopBound(completion, eventLoop: loop)
        Task(executorPreference: self) {
            let result = await work()
            if loop.inEventLoop {
                completion.value(result)
            } else {
                loop.execute { completion.value(result) }
            }
        }
    }

    /// Runs `job` on the event loop.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        self.eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
