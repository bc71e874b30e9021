import GatehouseNIOSupport
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Sends commands to the nodes of a Redis Cluster: a ``RedisNodePool`` per node (pipelined, as for a single
/// server), each command to the primary that owns its key's hash slot.
///
/// The slot map is read with `CLUSTER SHARDS` (`CLUSTER SLOTS` when the server does not know it) from a known
/// primary or a seed: before the first command, and again after a `MOVED`, a `CLUSTERDOWN` or a connection
/// problem (at most one read at a time, and at most one every ``refreshInterval`` when asked for in passing).
/// A `MOVED` answer also records the slot's new owner at once, and the command is sent there; an `ASK` answer
/// sends `ASKING` and the command to the named node, once, on one connection, leaving the map as it is; a
/// `TRYAGAIN` (a command of several keys during a slot migration) is sent again after a short pause. Commands
/// without a key go to the first primary that can be reached.
final class RedisClusterRouter: Sendable {
    private struct State {
        var map: RedisClusterSlotMap?
        /// Per slot, the pool of its owner; empty until the first map is read.
        var routes: [RedisNodePool?] = []
        var pools: [RedisServerAddress: RedisNodePool] = [:]
        var refresh: Task<Result<Void, RedisError>, Never>?
        var lastRefresh: ContinuousClock.Instant?
        var isShutDown = false
    }

    /// How often a map refresh asked for in passing (after a `MOVED` or a connection problem) may start.
    static let refreshInterval = Duration.milliseconds(100)
    /// Redirects (`MOVED`, `ASK`) followed for one command before its last answer is thrown.
    static let maximumRedirects = 5
    /// `TRYAGAIN` answers waited out for one command, ``tryAgainPause`` apart, before the last is thrown.
    static let maximumTryAgains = 10
    /// The pause before a command that got `TRYAGAIN` is sent again.
    static let tryAgainPause = Duration.milliseconds(10)

    private static let askingCommand = ByteBuffer(string: "*1\r\n$6\r\nASKING\r\n")
    private static let shardsCommand = ByteBuffer(string: "*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n")
    private static let slotsCommand = ByteBuffer(string: "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n")

    private let seeds: [RedisServerAddress]
    private let configuration: RedisConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let backoff: ReconnectBackoff
    private let state = Mutex(State())

    /// Creates a router; nothing is opened until the first command or ``run()``.
    /// - Parameters:
    ///   - seeds: Nodes to read the slot map from when no primary is known yet; at least one.
    ///   - configuration: Credentials, timeouts and the pool size of each node's pool.
    init(seeds: [RedisServerAddress], configuration: RedisConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger) {
        self.seeds = seeds
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.backoff = ReconnectBackoff(initial: configuration.reconnectInitialBackoff, maximum: configuration.reconnectMaximumBackoff)
    }

    /// `cluster <seed>,<seed>…`, for messages.
    var endpoint: String {
        self.configuration.endpoint
    }

    /// Reads the slot map (retrying with backoff until it succeeds), then waits until the task is cancelled or
    /// a graceful shutdown begins, and closes every node's connections.
    func run() async {
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                if case .failure(let error) = await self.refreshMap() {
                    failures += 1
                    let delay = self.backoff.delay(afterFailures: failures)
                    self.logger.warning(
                        "Could not read the Redis Cluster slot map",
                        metadata: ["error": "\(error)", "retry-in": "\(delay.millisecondsDescription)"]
                    )
                    try? await Task.sleep(for: delay)
                    continue
                }
                break
            }
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        self.shutDown()
    }

    /// Sends an encoded command to the node of `slot` (any primary for `nil`), following redirects.
    /// - Throws: ``RedisError`` as a single server's commands do; a redirect only after ``maximumRedirects``.
    func send(_ command: ByteBuffer, slot: Int?) async throws -> RESPValue {
        guard let slot else {
            return try await self.sendKeyless(command)
        }
        var redirects = 0
        var tryAgains = 0
        var askTarget: RedisServerAddress?
        while true {
            do {
                if let target = askTarget {
                    askTarget = nil
                    return try await self.sendAsking(command, to: target)
                }
                return try await self.pool(forSlot: slot).send(command)
            } catch let error as RedisError {
                if let redirect = RedisClusterRedirect(error), redirects < Self.maximumRedirects {
                    redirects += 1
                    switch redirect.kind {
                    case .moved:
                        self.learn(redirect)
                    case .ask:
                        askTarget = redirect.address
                    }
                    continue
                }
                if error.serverErrorPrefix == "TRYAGAIN", tryAgains < Self.maximumTryAgains {
                    tryAgains += 1
                    try await Task.sleep(for: Self.tryAgainPause)
                    continue
                }
                if Self.suggestsTopologyChange(error) {
                    self.requestRefresh()
                }
                throw error
            }
        }
    }

    /// Closes every node's connections; later commands fail with ``RedisError/Code/clientShutDown``. Idempotent.
    func shutDown() {
        let pools = self.state.withLock { state -> [RedisNodePool] in
            guard !state.isShutDown else {
                return []
            }
            state.isShutDown = true
            state.refresh?.cancel()
            return Array(state.pools.values)
        }
        for pool in pools {
            pool.shutDown()
        }
    }

    // MARK: - Routing

    /// A command without a key: to the first primary (in map order) that a connection can be opened to.
    private func sendKeyless(_ command: ByteBuffer) async throws -> RESPValue {
        let primaries = try await self.knownPrimaries()
        var lastError: RedisError?
        for address in primaries {
            let connection: RedisConnection
            do {
                connection = try await self.pool(for: address).connection()
            } catch let error as RedisError where error.code == .connectionFailed || error.code == .connectTimeout {
                // Nothing was sent: another node can take it.
                lastError = error
                continue
            }
            do {
                return try await connection.send(encoded: command)
            } catch let error as RedisError {
                if Self.suggestsTopologyChange(error) {
                    self.requestRefresh()
                }
                throw error
            }
        }
        self.requestRefresh()
        throw lastError ?? .connectionFailed(endpoint: self.endpoint, reason: "no primary is known")
    }

    /// `ASKING` and the command, pipelined on one connection to `address`.
    private func sendAsking(_ command: ByteBuffer, to address: RedisServerAddress) async throws -> RESPValue {
        let connection = try await self.pool(for: address).connection()
        let asking: EventLoopFuture<RESPValue> = connection.send(encoded: Self.askingCommand)
        let reply = try await connection.send(encoded: command)
        _ = try? await asking.get()
        return reply
    }

    /// The pool of the primary that owns `slot`; reads the map first when none is known.
    private func pool(forSlot slot: Int) async throws -> RedisNodePool {
        let (route, hasMap, isShutDown) = self.state.withLock { state in
            (state.routes.isEmpty ? nil : state.routes[slot], state.map != nil, state.isShutDown)
        }
        if isShutDown {
            throw RedisError.clientShutDown(endpoint: self.endpoint)
        }
        if let route {
            return route
        }
        if hasMap {
            self.requestRefresh()
        } else {
            try await self.refreshMap().get()
            if let route = self.state.withLock({ $0.routes.isEmpty ? nil : $0.routes[slot] }) {
                return route
            }
        }
        throw RedisError.connectionFailed(endpoint: self.endpoint, reason: "no node of the cluster owns hash slot \(slot)")
    }

    /// The primaries of the map, reading it first when none is known.
    private func knownPrimaries() async throws -> [RedisServerAddress] {
        if let primaries = self.state.withLock({ $0.map?.primaries }) {
            return primaries
        }
        try await self.refreshMap().get()
        return self.state.withLock { $0.map?.primaries ?? [] }
    }

    /// The pool of the node at `address`, created on first use.
    private func pool(for address: RedisServerAddress) -> RedisNodePool {
        self.state.withLock { state in
            Self.pool(for: address, in: &state, creating: self.makePool)
        }
    }

    private static func pool(
        for address: RedisServerAddress,
        in state: inout State,
        creating makePool: (RedisServerAddress) -> RedisNodePool
    ) -> RedisNodePool {
        if let pool = state.pools[address] {
            return pool
        }
        let pool = makePool(address)
        state.pools[address] = pool
        if state.isShutDown {
            pool.shutDown()
        }
        return pool
    }

    private func makePool(_ address: RedisServerAddress) -> RedisNodePool {
        RedisNodePool(
            target: .server(self.configuration.addressed(to: address)),
            configuration: self.configuration,
            eventLoopGroup: self.eventLoopGroup,
            logger: self.logger
        )
    }

    /// Records a `MOVED` answer's new owner at once and asks for a full refresh (a slot rarely moves alone).
    private func learn(_ redirect: RedisClusterRedirect) {
        self.state.withLock { state in
            guard state.map != nil else {
                return
            }
            state.map?.assign(slot: redirect.slot, to: redirect.address)
            state.routes[redirect.slot] = Self.pool(for: redirect.address, in: &state, creating: self.makePool)
        }
        self.logger.debug("Redis Cluster slot moved", metadata: ["slot": "\(redirect.slot)", "to": "\(redirect.address)"])
        self.requestRefresh()
    }

    /// Whether an error may mean that slots changed hands: a node is gone or the cluster is reconfiguring.
    private static func suggestsTopologyChange(_ error: RedisError) -> Bool {
        switch error.code {
        case .connectionFailed, .connectTimeout, .connectionClosed, .commandTimeout:
            return true
        case .serverError:
            return error.serverErrorPrefix == "CLUSTERDOWN" || error.serverErrorPrefix == "MOVED"
        default:
            return false
        }
    }

    // MARK: - Slot map

    /// Starts a map refresh unless one is under way or one started less than ``refreshInterval`` ago.
    private func requestRefresh() {
        let due = self.state.withLock { state in
            state.refresh == nil && !state.isShutDown
                && (state.lastRefresh.map { ContinuousClock.now - $0 >= Self.refreshInterval } ?? true)
        }
        if due {
            Task { _ = await self.refreshMap() }
        }
    }

    /// Reads the map and installs it, or joins the read under way.
    private func refreshMap() async -> Result<Void, RedisError> {
        let task = self.state.withLock { state -> Task<Result<Void, RedisError>, Never> in
            if let running = state.refresh {
                return running
            }
            state.lastRefresh = .now
            let task = Task { await self.readAndInstallMap() }
            state.refresh = task
            return task
        }
        return await task.value
    }

    private func readAndInstallMap() async -> Result<Void, RedisError> {
        let result = await self.readMap()
        let previous = self.state.withLock { state -> RedisClusterSlotMap? in
            defer { state.refresh = nil }
            guard case .success(let map) = result, !state.isShutDown else {
                return state.map
            }
            let previous = state.map
            state.map = map
            var pools: [RedisNodePool] = []
            for address in map.primaries {
                pools.append(Self.pool(for: address, in: &state, creating: self.makePool))
            }
            var routes: [RedisNodePool?] = []
            routes.reserveCapacity(RedisHashSlot.count)
            for slot in 0..<RedisHashSlot.count {
                routes.append(map.owner(of: slot).flatMap { address in map.primaries.firstIndex(of: address).map { pools[$0] } })
            }
            state.routes = routes
            return previous
        }
        if case .success(let map) = result, map != previous {
            self.logger.info(
                "Read the Redis Cluster slot map",
                metadata: ["primaries": "\(map.primaries.map(\.description))", "slots-owned": "\(map.ownedSlotCount)"]
            )
        }
        return result.map { _ in }
    }

    /// Asks the known primaries, then the seeds, for the map; the first usable answer wins.
    private func readMap() async -> Result<RedisClusterSlotMap, RedisError> {
        var candidates = self.state.withLock { $0.map?.primaries ?? [] }
        for seed in self.seeds where !candidates.contains(seed) {
            candidates.append(seed)
        }
        var lastError: RedisError?
        for address in candidates {
            do {
                let connection = try await self.pool(for: address).connection()
                let map: RedisClusterSlotMap
                do {
                    map = try RedisClusterSlotMap(shardsReply: try await connection.send(encoded: Self.shardsCommand), queriedNode: address)
                } catch let error as RedisError where error.code == .serverError {
                    // An older server without CLUSTER SHARDS (before Redis 7).
                    map = try RedisClusterSlotMap(slotsReply: try await connection.send(encoded: Self.slotsCommand), queriedNode: address)
                }
                guard map.ownedSlotCount > 0 else {
                    lastError = .connectionFailed(endpoint: address.description, reason: "the node knows no slot owner")
                    continue
                }
                return .success(map)
            } catch {
                lastError = error as? RedisError ?? .connectionFailed(endpoint: address.description, reason: "\(error)")
            }
        }
        return .failure(lastError ?? .connectionFailed(endpoint: self.endpoint, reason: "no seed is configured"))
    }
}
