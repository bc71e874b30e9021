import GatehouseNIOSupport
import NIOPosix

/// The executors the load generators' callers run on: one per event loop of the shared NIO group, which the
/// RPC and Redis clients use too. A caller on a loop uses that loop's connection (the clients prefer it),
/// so its call, the answer and its next call need no thread hop: the generator takes less of the cores it
/// shares with the server it measures. Used by the closed-loop callers and by the open-loop generator, which
/// also keeps its schedule on the loops (``OpenLoopLoad``).
enum CallerExecutors {
    static let all: [EventLoopTaskExecutor] = MultiThreadedEventLoopGroup.singleton.makeIterator().map { EventLoopTaskExecutor(eventLoop: $0) }

    /// The executor for caller number `index`, round-robin over the loops.
    static func forCaller(_ index: Int) -> EventLoopTaskExecutor {
        self.all[index % self.all.count]
    }
}
