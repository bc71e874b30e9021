import Dispatch
import Foundation
import Synchronization

/// A serial executor that runs every job on one thread of its own.
///
/// An actor that owns a ``SQLiteConnection`` returns this executor from `unownedExecutor`, so
/// its blocking SQLite calls (disk reads, fsync, lock waits) occupy this thread instead of a
/// thread of Swift's cooperative pool. Jobs run in the order they were enqueued. The thread ends
/// once the executor is released and its queue is empty.
public final class DedicatedThreadExecutor: SerialExecutor {
    private let queue: JobQueue

    /// Starts the thread.
    /// - Parameter name: The thread's name, shown by debuggers and `top -H`.
    public init(name: String) {
        queue = JobQueue()
        let queue = self.queue
        let executor = UnownedSerialExecutor(ordinary: self)
        // On Linux a name given before start() is not applied, and naming from inside the thread
        // only works once start() has returned; the thread waits for that.
        let started = DispatchSemaphore(value: 0)
        Thread {
            started.wait()
            queue.runJobs(on: executor, threadName: name)
        }.start()
        started.signal()
    }

    deinit {
        queue.stop()
    }

    /// Queues a job to run on the executor's thread.
    /// - Parameter job: The job, run after every job enqueued before it.
    public func enqueue(_ job: consuming ExecutorJob) {
        queue.push(UnownedJob(job))
    }

    /// Stops the process unless called on the executor's thread (used by `assumeIsolated`).
    public func checkIsolated() {
        precondition(queue.isCurrentThread, "expected to run on the \(queue.threadName) thread")
    }
}

/// The jobs waiting for a ``DedicatedThreadExecutor``'s thread, and the loop that runs them.
private final class JobQueue: Sendable {
    private struct State {
        var jobs: [UnownedJob] = []
        var sleeping = false
        var stopped = false
        var thread: pthread_t?
        var threadName = ""
    }

    private let state = Mutex(State())
    private let wakeUp = DispatchSemaphore(value: 0)

    var isCurrentThread: Bool {
        let current = pthread_self()
        return state.withLock { state in state.thread.map { pthread_equal($0, current) != 0 } ?? false }
    }

    var threadName: String {
        state.withLock { $0.threadName }
    }

    func push(_ job: UnownedJob) {
        let mustWake = state.withLock { state in
            state.jobs.append(job)
            defer { state.sleeping = false }
            return state.sleeping
        }
        if mustWake { wakeUp.signal() }
    }

    func stop() {
        let mustWake = state.withLock { state in
            state.stopped = true
            defer { state.sleeping = false }
            return state.sleeping
        }
        if mustWake { wakeUp.signal() }
    }

    /// The thread's body: takes all queued jobs at once, runs them, sleeps when there are none.
    func runJobs(on executor: UnownedSerialExecutor, threadName: String) {
        Thread.current.name = threadName
        let current = pthread_self()
        state.withLock { state in
            state.thread = current
            state.threadName = threadName
        }
        var batch: [UnownedJob] = []
        while true {
            let keepRunning = state.withLock { state in
                if state.jobs.isEmpty {
                    if state.stopped { return false }
                    state.sleeping = true
                } else {
                    swap(&batch, &state.jobs)
                }
                return true
            }
            guard keepRunning else { return }
            if batch.isEmpty {
                wakeUp.wait()
                continue
            }
            for job in batch {
                job.runSynchronously(on: executor)
            }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
