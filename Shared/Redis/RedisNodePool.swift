import GatehouseNIOSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A small pool of pipelined connections to one Redis server: what ``RedisClient`` uses for a single server or
/// a sentinel-monitored primary, and for each primary of a Redis Cluster.
///
/// Commands from any number of tasks are written to a connection at once, without waiting for earlier replies
/// (pipelining); consecutive commands go to the pool's connections round-robin. Connections open on first use.
/// ``run()`` opens them eagerly, reconnects after a drop with exponential backoff and jitter, and closes them
/// on shutdown.
///
/// While no connection is up and the last connection attempt failed, commands fail at once with that attempt's
/// error until the backoff delay has passed, instead of piling up.
///
/// For a primary the sentinels name (``RedisConnectionTarget/sentinelPrimary(_:)``) every connection is opened
/// to the primary they name at that moment, checked with `ROLE`. A connection whose command is answered
/// `READONLY` (its node has become a replica) is closed, and when the sentinels announce a failover
/// (`+switch-master`, heard while ``run()`` goes on) the connections to the former primary are closed and the
/// reconnect backoff is reset, so the next command connects to the new primary.
final class RedisNodePool: Sendable {
    private enum Slot {
        /// No connection; the next attempt may start at `retryAt`.
        case disconnected(consecutiveFailures: Int, retryAt: NIODeadline, lastError: RedisError?)
        /// A connection attempt is under way; `consecutiveFailures` counts the failed attempts before it.
        case connecting(EventLoopFuture<RedisConnection>, consecutiveFailures: Int)
        case connected(RedisConnection)
    }

    private struct PoolState {
        var slots: [Slot]
        var nextSlot = 0
        var isShutDown = false
    }

    /// What a caller does after looking at the pool under the lock.
    private enum Acquisition {
        case use(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case fail(RedisError)
    }

    private let target: RedisConnectionTarget
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let backoff: ReconnectBackoff
    private let state: Mutex<PoolState>

    /// Creates a pool; no connection is opened until the first command or ``run()``.
    ///
    /// - Parameters:
    ///   - target: The server, or the primary the sentinels name.
    ///   - configuration: The pool size (below 1 is treated as 1) and the reconnect backoff.
    ///   - eventLoopGroup: The event loops the connections run on.
    ///   - logger: Receives connection events (connects, drops, timeouts); commands are not logged.
    init(target: RedisConnectionTarget, configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.target = target
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.backoff = ReconnectBackoff(
            initial: configuration.reconnectInitialBackoff,
            maximum: configuration.reconnectMaximumBackoff
        )
        let slots = Array(
            repeating: Slot.disconnected(consecutiveFailures: 0, retryAt: .uptimeNanoseconds(0), lastError: nil),
            count: max(configuration.poolSize, 1)
        )
        self.state = Mutex(PoolState(slots: slots))
    }

    /// The server's `host:port`, or the primary's name and its sentinels, for messages.
    var endpoint: String {
        self.target.endpoint
    }

    /// Keeps every pooled connection open, reconnecting with backoff after drops, until the task is cancelled
    /// or a graceful shutdown begins; then closes the connections. Commands sent afterwards fail with
    /// ``RedisError/Code/clientShutDown``.
    func run() async {
        let slotCount = self.state.withLock { $0.slots.count }
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for index in 0..<slotCount {
                    group.addTask {
                        await self.keepConnected(slot: index)
                    }
                }
                if let primary = self.target.followedPrimary {
                    group.addTask {
                        await primary.watchFailovers(eventLoopGroup: self.eventLoopGroup, logger: self.logger) { newPrimary in
                            self.primaryMoved(to: newPrimary)
                        }
                    }
                }
            }
        }
        self.shutDown()
    }

    /// Sends an encoded command on the next connection and returns its reply.
    func send(_ command: ByteBuffer) async throws -> RESPValue {
        let connection = try await self.connection()
        guard self.target.followedPrimary != nil else {
            return try await connection.send(encoded: command)
        }
        do {
            return try await connection.send(encoded: command)
        } catch let error as RedisError where error.serverErrorPrefix == "READONLY" {
            // The node was demoted to a replica: reconnect, which asks the sentinels for the primary again.
            self.logger.info("Redis answered READONLY; reconnecting to the primary", metadata: ["endpoint": "\(connection.endpoint)"])
            connection.close()
            throw error
        }
    }

    // MARK: - Pool

    /// Closes the connections that do not lead to `newPrimary` and lets the next command connect at once.
    private func primaryMoved(to newPrimary: RedisServerAddress) {
        let stale = self.state.withLock { state -> [RedisConnection] in
            var stale: [RedisConnection] = []
            for index in state.slots.indices {
                switch state.slots[index] {
                case .connected(let connection) where !connection.leads(to: newPrimary):
                    stale.append(connection)
                case .disconnected:
                    state.slots[index] = .disconnected(consecutiveFailures: 0, retryAt: .now(), lastError: nil)
                case .connected, .connecting:
                    break
                }
            }
            return stale
        }
        for connection in stale {
            connection.close()
        }
    }

    /// A live connection for the next command, opening connections as needed.
    func connection() async throws -> RedisConnection {
        let now = NIODeadline.now()
        var connectionsToOpen: [(slot: Int, promise: EventLoopPromise<RedisConnection>)] = []
        let acquisition = self.state.withLock { state -> Acquisition in
            if state.isShutDown {
                return .fail(.clientShutDown(endpoint: self.endpoint))
            }
            let count = state.slots.count
            let first = state.nextSlot
            state.nextSlot = (first + 1) % count
            var inFlight: EventLoopFuture<RedisConnection>?
            var lastError: RedisError?
            var chosen: RedisConnection?
            var chosenIsLocal = false
            for offset in 0..<count {
                let index = (first + offset) % count
                switch state.slots[index] {
                case .connected(let connection) where connection.isActive:
                    // Prefer the connection on the caller's own event loop (a caller running on an
                    // `EventLoopTaskExecutor`, such as an RPC handler): the command and its reply then need
                    // no thread hop.
                    if chosen == nil || (!chosenIsLocal && connection.channel.eventLoop.inEventLoop) {
                        chosen = connection
                        chosenIsLocal = connection.channel.eventLoop.inEventLoop
                    }
                case .connected:
                    let promise = self.eventLoopGroup.next().makePromise(of: RedisConnection.self)
                    state.slots[index] = .connecting(promise.futureResult, consecutiveFailures: 0)
                    connectionsToOpen.append((index, promise))
                    inFlight = inFlight ?? promise.futureResult
                case .connecting(let future, _):
                    inFlight = inFlight ?? future
                case .disconnected(let failures, let retryAt, let error):
                    if retryAt <= now {
                        let promise = self.eventLoopGroup.next().makePromise(of: RedisConnection.self)
                        state.slots[index] = .connecting(promise.futureResult, consecutiveFailures: failures)
                        connectionsToOpen.append((index, promise))
                        inFlight = inFlight ?? promise.futureResult
                    } else {
                        lastError = lastError ?? error
                    }
                }
            }
            if let chosen {
                return .use(chosen)
            }
            if let inFlight {
                return .wait(inFlight)
            }
            return .fail(
                lastError ?? .connectionFailed(endpoint: self.endpoint, reason: "no connection is open")
            )
        }
        for (slot, promise) in connectionsToOpen {
            self.openConnection(slot: slot, promise: promise)
        }
        switch acquisition {
        case .use(let connection):
            return connection
        case .wait(let future):
            return try await future.get()
        case .fail(let error):
            throw error
        }
    }

    /// Opens the connection for `slot` (already marked `.connecting` with `promise`'s future) and records the outcome.
    private func openConnection(slot: Int, promise: EventLoopPromise<RedisConnection>) {
        self.target.connect(eventLoop: promise.futureResult.eventLoop, logger: self.logger)
            .whenComplete { result in
                switch result {
                case .success(let connection):
                    self.connectionOpened(connection, slot: slot)
                case .failure(let error):
                    self.connectionFailed(error, slot: slot)
                }
                promise.completeWith(result)
            }
    }

    private func connectionOpened(_ connection: RedisConnection, slot: Int) {
        let accepted = self.state.withLock { state -> Bool in
            guard !state.isShutDown else {
                return false
            }
            state.slots[slot] = .connected(connection)
            return true
        }
        guard accepted else {
            connection.close()
            return
        }
        self.logger.debug("Connected to Redis", metadata: ["endpoint": "\(self.endpoint)", "slot": "\(slot)"])
        connection.closeFuture.whenComplete { _ in
            let dropped = self.state.withLock { state -> Bool in
                guard case .connected(let current) = state.slots[slot], current === connection else {
                    return false
                }
                state.slots[slot] = .disconnected(consecutiveFailures: 0, retryAt: .now(), lastError: nil)
                return !state.isShutDown
            }
            if dropped {
                self.logger.info(
                    "Redis connection closed; it will be reopened",
                    metadata: ["endpoint": "\(self.endpoint)", "slot": "\(slot)"]
                )
            }
        }
    }

    private func connectionFailed(_ error: any Error, slot: Int) {
        let redisError = error as? RedisError
            ?? .connectionFailed(endpoint: self.endpoint, reason: "\(error)")
        let delay = self.state.withLock { state -> Duration? in
            guard !state.isShutDown else {
                return nil
            }
            let failures: Int
            if case .connecting(_, let previous) = state.slots[slot] {
                failures = previous + 1
            } else {
                failures = 1
            }
            let delay = self.backoff.delay(afterFailures: failures)
            state.slots[slot] = .disconnected(
                consecutiveFailures: failures,
                retryAt: .now() + TimeAmount(delay),
                lastError: redisError
            )
            return delay
        }
        guard let delay else {
            return
        }
        self.logger.warning(
            "Could not connect to Redis",
            metadata: ["error": "\(redisError)", "retry-in": "\(delay.millisecondsDescription)", "slot": "\(slot)"]
        )
    }

    /// What ``keepConnected(slot:)`` does next for its slot.
    private enum Maintenance {
        case watch(RedisConnection)
        case wait(EventLoopFuture<RedisConnection>)
        case sleep(until: NIODeadline)
    }

    /// Keeps one slot connected until the task is cancelled.
    private func keepConnected(slot: Int) async {
        while !Task.isCancelled {
            var promiseToOpen: EventLoopPromise<RedisConnection>?
            let step = self.state.withLock { state -> Maintenance in
                switch state.slots[slot] {
                case .connected(let connection):
                    return .watch(connection)
                case .connecting(let future, _):
                    return .wait(future)
                case .disconnected(let failures, let retryAt, _):
                    if retryAt > .now() {
                        return .sleep(until: retryAt)
                    }
                    let promise = self.eventLoopGroup.next().makePromise(of: RedisConnection.self)
                    state.slots[slot] = .connecting(promise.futureResult, consecutiveFailures: failures)
                    promiseToOpen = promise
                    return .wait(promise.futureResult)
                }
            }
            if let promiseToOpen {
                self.openConnection(slot: slot, promise: promiseToOpen)
            }
            switch step {
            case .watch(let connection):
                await withTaskCancellationHandler {
                    try? await connection.closeFuture.get()
                } onCancel: {
                    self.shutDown()
                }
            case .wait(let future):
                _ = try? await future.get()
            case .sleep(let deadline):
                let nanoseconds = (deadline - .now()).nanoseconds
                try? await Task.sleep(for: .nanoseconds(max(nanoseconds, 0)))
            }
        }
    }

    /// Refuses further commands and closes every connection. Idempotent.
    func shutDown() {
        let connections = self.state.withLock { state -> ([RedisConnection], [EventLoopFuture<RedisConnection>])? in
            guard !state.isShutDown else {
                return nil
            }
            state.isShutDown = true
            var open: [RedisConnection] = []
            var opening: [EventLoopFuture<RedisConnection>] = []
            for slot in state.slots {
                switch slot {
                case .connected(let connection):
                    open.append(connection)
                case .connecting(let future, _):
                    opening.append(future)
                case .disconnected:
                    break
                }
            }
            return (open, opening)
        }
        guard let (open, opening) = connections else {
            return
        }
        for connection in open {
            connection.close()
        }
        for future in opening {
            future.whenSuccess { $0.close() }
        }
        self.logger.debug("Redis client shut down", metadata: ["endpoint": "\(self.endpoint)"])
    }
}
