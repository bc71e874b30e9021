import Foundation
import GatehouseNIOSupport
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwiftProtobuf
import Synchronization

/// Calls methods on one RPC server over a small pool of authenticated connections.
///
/// A service-lifecycle `Service`: ``run()`` opens ``RPCClientConfiguration/connections`` connections
/// and keeps them open, reconnecting with exponential backoff and jitter. ``call(_:_:timeout:traceID:)``
/// may be used from any task while `run()` runs; many calls share one connection and their answers
/// are matched by id in any order.
public final class RPCClient: Service, Sendable {
    private struct State {
        var stopped = false
        var ready: [RPCClientConnection] = []
        var nextReady = 0
        /// Slots whose connect attempt is under way; every slot's first attempt counts from `init`, so
        /// calls made while `run()` is starting wait for it instead of failing.
        var connecting: Int
        var lastError: (any Error)?
        var nextWaiterID = 0
        var waiters: [Int: CheckedContinuation<RPCClientConnection, any Error>] = [:]

        mutating func takeWaiters() -> [CheckedContinuation<RPCClientConnection, any Error>] {
            defer { self.waiters.removeAll() }
            return Array(self.waiters.values)
        }
    }

    private let configuration: RPCClientConfiguration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private let state: Mutex<State>
    private let peer: String
    /// The group's loops: slot `i` connects on loop `i % count`, so each loop has its own connection
    /// when there are at least as many connections as loops.
    private let eventLoops: [any EventLoop]

    /// Creates a client; no connection opens until ``run()``.
    /// - Parameters:
    ///   - configuration: The server and the client's behaviour.
    ///   - eventLoopGroup: The NIO threads to use.
    ///   - logger: Receives connection events.
    public init(
        configuration: RPCClientConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.eventLoops = Array(eventLoopGroup.makeIterator())
        self.peer = "\(configuration.host):\(configuration.port)"
        self.state = Mutex(State(connecting: max(1, configuration.connections)))
        var logger = logger
        logger[metadataKey: "rpc.peer"] = "\(self.peer)"
        self.logger = logger
    }

    /// Keeps the pool connected until graceful shutdown or cancellation, then closes every connection
    /// (calls still waiting fail with `unavailable`).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for slot in 0..<max(1, self.configuration.connections) {
                    group.addTask { await self.maintainConnection(slot: slot) }
                }
            }
        }
        let waiters = self.state.withLock { state in
            state.stopped = true
            return state.takeWaiters()
        }
        for waiter in waiters {
            waiter.resume(throwing: RPCError(.unavailable, "the RPC client for \(self.peer) has stopped"))
        }
    }

    /// Calls a method and waits for its answer.
    /// - Parameters:
    ///   - method: The method to call.
    ///   - request: Its request message.
    ///   - timeout: How long to wait for the answer (default ``RPCClientConfiguration/defaultCallTimeout``);
    ///     the server receives it as the call's deadline.
    ///   - traceID: The originating HTTP request id, passed along for logs.
    /// - Returns: The server's response message.
    /// - Throws: ``RPCError``: the server's typed failure, `deadlineExceeded` when the timeout passed,
    ///   `unavailable` when no connection is up or it dropped before the answer; `CancellationError`
    ///   when the calling task is cancelled.
    public func call<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        _ request: Request,
        timeout: Duration? = nil,
        traceID: String? = nil
    ) async throws -> Response {
        let deadline = NIODeadline.now() + TimeAmount(timeout ?? self.configuration.defaultCallTimeout)
        let payload: Data
        do {
            payload = try request.serializedBytes()
        } catch {
            throw RPCError(.invalidArgument, "cannot serialize the \(Request.protoMessageName) request: \(error)")
        }
        let connection = try await self.readyConnection(deadline: deadline)
        let answer = try await connection.send(method: method.name, payload: payload, deadline: deadline, traceID: traceID)
        switch answer.body {
        case .payload(let bytes):
            do {
                return try Response(serializedBytes: bytes)
            } catch {
                throw RPCError(.protocolError, "\(self.peer) answered '\(method.name)' with an invalid \(Response.protoMessageName)")
            }
        case .failure(let failure):
            throw RPCError(failure)
        case nil:
            throw RPCError(.protocolError, "\(self.peer) answered '\(method.name)' with neither a payload nor a failure")
        }
    }

    /// A connected, authenticated connection: the one on the caller's event loop if there is one, else
    /// round-robin over the ready ones, or the next one to come
    /// up while a connect attempt is under way (at most until `deadline`); fails fast when every
    /// attempt has failed.
    private func readyConnection(deadline: NIODeadline) async throws -> RPCClientConnection {
        enum Choice {
            case ready(RPCClientConnection)
            case wait
            case fail(RPCError)
        }
        let choice: Choice = self.state.withLock { state in
            if !state.ready.isEmpty {
                // A caller on a connection's own event loop (an RPC or HTTP handler running there) uses
                // that connection: the call and its answer then need no thread hop.
                if let local = state.ready.first(where: { $0.channel.eventLoop.inEventLoop }) { return .ready(local) }
                state.nextReady &+= 1
                return .ready(state.ready[state.nextReady % state.ready.count])
            }
            return state.connecting > 0 && !state.stopped ? .wait : .fail(self.unavailable(state))
        }
        switch choice {
        case .ready(let connection):
            return connection
        case .fail(let error):
            throw error
        case .wait:
            return try await withCheckedThrowingContinuation { continuation in
                let waiterID: Int? = self.state.withLock { state in
                    guard state.ready.isEmpty, state.connecting > 0, !state.stopped else { return nil }
                    state.nextWaiterID += 1
                    state.waiters[state.nextWaiterID] = continuation
                    return state.nextWaiterID
                }
                guard let waiterID else {
                    // The pool changed between the two looks: decide again without waiting.
                    let connection: Result<RPCClientConnection, RPCError> = self.state.withLock { state in
                        state.ready.first.map { .success($0) } ?? .failure(self.unavailable(state))
                    }
                    continuation.resume(with: connection)
                    return
                }
                self.eventLoopGroup.any().scheduleTask(deadline: deadline) {
                    let expired = self.state.withLock { $0.waiters.removeValue(forKey: waiterID) }
                    expired?.resume(
                        throwing: RPCError(.deadlineExceeded, "no connection to \(self.peer) came up before the call's deadline")
                    )
                }
            }
        }
    }

    /// The error for a call that found no connection: a failed handshake's own error (wrong secret,
    /// wrong version: retrying cannot help), else `unavailable` naming the peer and the last failure.
    private func unavailable(_ state: State) -> RPCError {
        if state.stopped {
            return RPCError(.unavailable, "the RPC client for \(self.peer) has stopped")
        }
        if let handshakeError = state.lastError as? RPCError, [.unauthenticated, .versionMismatch].contains(handshakeError.code) {
            return handshakeError
        }
        return RPCError(.unavailable, "no connection to \(self.peer)" + (state.lastError.map { ": \($0)" } ?? ""))
    }

    /// Connects one pool slot, keeps it until it drops, and reconnects with backoff, until cancelled.
    private func maintainConnection(slot: Int) async {
        let backoff = ReconnectBackoff(initial: self.configuration.initialReconnectDelay, maximum: self.configuration.maximumReconnectDelay)
        var failedAttempts = 0
        var firstAttempt = true
        while !Task.isCancelled {
            if !firstAttempt { self.state.withLock { $0.connecting += 1 } }
            firstAttempt = false
            do {
                let connection = try await RPCClientConnection.connect(configuration: self.configuration, eventLoop: self.eventLoops[slot % self.eventLoops.count])
                let waiters = self.state.withLock { state in
                    state.connecting -= 1
                    state.ready.append(connection)
                    return state.takeWaiters()
                }
                for waiter in waiters { waiter.resume(returning: connection) }
                if failedAttempts > 0 { self.logger.info("rpc connection restored", metadata: ["rpc.slot": "\(slot)"]) }
                failedAttempts = 0
                await connection.waitUntilClosed()
                self.state.withLock { state in
                    state.ready.removeAll { $0 === connection }
                }
                if Task.isCancelled { return }
                self.logger.warning("rpc connection lost; reconnecting", metadata: ["rpc.slot": "\(slot)"])
            } catch {
                let (waiters, failure): ([CheckedContinuation<RPCClientConnection, any Error>], RPCError) = self.state.withLock { state in
                    state.connecting -= 1
                    state.lastError = error
                    guard state.connecting == 0, state.ready.isEmpty else { return ([], self.unavailable(state)) }
                    return (state.takeWaiters(), self.unavailable(state))
                }
                for waiter in waiters { waiter.resume(throwing: failure) }
                if failedAttempts == 0 {
                    self.logger.warning("rpc connect failed; retrying with backoff", metadata: ["rpc.slot": "\(slot)", "rpc.error": "\(error)"])
                }
                failedAttempts += 1
            }
            try? await Task.sleep(for: backoff.delay(afterFailures: max(1, failedAttempts)))
        }
    }
}
