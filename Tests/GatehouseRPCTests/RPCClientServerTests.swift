import GatehouseRPC
import NIOCore
import NIOPosix
import GatehouseTestSupport
import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import Testing

@Suite struct RPCClientServerTests {
    @Test func answersArriveOutOfOrderAndReachTheirCallers() async throws {
        try await withServerAndClient { client, _ in
            let completionOrder = try await withThrowingTaskGroup(of: UInt32.self) { group in
                // Far apart, so a loaded machine cannot reverse them: the slow call is sent first and answered
                // seconds after the quick one.
                for milliseconds: UInt32 in [3000, 10] {
                    group.addTask { try await client.call(TestMethods.sleep, .init(milliseconds), timeout: .seconds(20)).value }
                    // Make sure the slow call is sent first.
                    try await Task.sleep(for: .milliseconds(100))
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(completionOrder == [10, 3000])
        }
    }

    @Test func tenThousandConcurrentCallsOnOneConnectionEachGetTheirOwnAnswer() async throws {
        try await withServerAndClient(connections: 1) { client, _ in
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                for value in UInt64(0)..<10_000 {
                    group.addTask {
                        try await client.call(TestMethods.echo, .init(value)).value == value
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(answered == 10_000)
        }
    }

    @Test func aCallPastItsDeadlineFailsQuicklyAndTheConnectionKeepsWorking() async throws {
        try await withServerAndClient { client, _ in
            // Connected first, so the deadline below can only expire waiting for the answer.
            _ = try await client.call(TestMethods.echo, .init(0))
            let start = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.sleep, .init(5_000), timeout: .milliseconds(100))
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.message.contains("test.Sleep") == true)
            #expect(ContinuousClock.now - start < .seconds(2))
            let after = try await client.call(TestMethods.echo, .init(7))
            #expect(after.value == 7)
        }
    }

    @Test func typedHandlerErrorsReachTheCallerAndOtherErrorsBecomeInternal() async throws {
        try await withServerAndClient { client, _ in
            let conflict = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.conflict, .init("doc-1"))
            }
            #expect(conflict == RPCError(.conflict, "document doc-1 changed"))

            let crash = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.crash, .init("x"))
            }
            #expect(crash?.code == .internal)
            #expect(crash?.message.contains("UnexpectedHandlerFailure") == false)

            let missing = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.missing, .init("x"))
            }
            #expect(missing?.code == .unimplemented)
            #expect(missing?.message.contains("test.Missing") == true)
        }
    }

    @Test func aClientWithTheWrongSecretIsRefusedAndRunsNoMethod() async throws {
        try await withServerAndClient(clientSecret: try RPCSecret("wrong-secret-0123456789abcdef")) { client, _ in
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.echo, .init(1))
            }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("secrets differ") == true)
        }
    }

    @Test func aFrameLongerThanTheMaximumClosesTheConnection() async throws {
        try await withServerAndClient { _, port in
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port)
                .get()
            var header = ByteBuffer()
            header.writeInteger(UInt32(512 * 1024 * 1024), endianness: .big)
            try await channel.writeAndFlush(header)
            let closed = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await channel.closeFuture.get()
                    return true
                }
                group.addTask {
                    // Generous: the whole suite runs in parallel on a small machine.
                    try await Task.sleep(for: .seconds(10))
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            #expect(closed, "the server must close a connection that announces an oversized frame")
            try? await channel.close()
        }
    }

    @Test func inFlightCallsPerConnectionAreBounded() async throws {
        try await withServerAndClient(maximumInFlightPerConnection: 2) { client, _ in
            let start = ContinuousClock.now
            try await withThrowingTaskGroup { group in
                for _ in 0..<6 {
                    group.addTask { _ = try await client.call(TestMethods.sleep, .init(100)) }
                }
                try await group.waitForAll()
            }
            // Six 100 ms calls, at most two at a time: at least three rounds.
            #expect(ContinuousClock.now - start >= .milliseconds(300))
        }
    }

    @Test func gracefulShutdownFinishesTheCallInFlight() async throws {
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        var handlers = testHandlers()
        handlers.register(TestMethods.sleep) { request, _ in
            startedContinuation.yield()
            try await Task.sleep(for: .milliseconds(request.value))
            return request
        }
        let system = try await StoppableServerAndClient(handlers: handlers)
        let (serverGroup, serverTask, client, clientTask) = (system.serverGroup, system.serverTask, system.client, system.clientTask)
        let slow = Task { try await client.call(TestMethods.sleep, .init(300)) }
        // A call that fails before the handler runs ends the wait below too (and fails the test at
        // `slow.value`) instead of leaving it waiting forever.
        Task {
            _ = try? await slow.value
            startedContinuation.finish()
        }
        // Shut down only once the server is running the call.
        for await _ in started { break }
        await serverGroup.triggerGracefulShutdown()
        let answer = try await slow.value
        #expect(answer.value == 300)
        // The connection fell idle once the answer was written: the draining server closes it and its
        // run() returns while the client is still running.
        #expect(await Self.finishes(serverTask, within: .seconds(10)), "the server's run() returned after graceful shutdown")
        clientTask.cancel()
        #expect(await Self.finishes(clientTask, within: .seconds(10)), "the client's run() returned after cancellation")
        serverTask.cancel()
    }

    @Test func gracefulShutdownClosesIdleConnectionsWithoutWaitingForTheirClients() async throws {
        let system = try await StoppableServerAndClient(connections: 2)
        let (serverGroup, serverTask, client, clientTask) = (system.serverGroup, system.serverTask, system.client, system.clientTask)
        defer { clientTask.cancel() }
        // The pool connected and idle.
        for value in UInt64(0)..<4 {
            #expect(try await client.call(TestMethods.echo, .init(value)).value == value)
        }
        let start = ContinuousClock.now
        await serverGroup.triggerGracefulShutdown()
        #expect(await Self.finishes(serverTask, within: .seconds(5)), "the server's run() returned with idle clients connected")
        #expect(ContinuousClock.now - start < .seconds(5))
        // The client notices: with nowhere to reconnect, calls fail fast instead of hanging.
        await #expect(throws: RPCError.self) { try await client.call(TestMethods.echo, .init(9), timeout: .seconds(2)) }
        serverTask.cancel()
    }

    /// Whether `task` finishes within `limit` (a task that never does is left behind, not awaited).
    static func finishes(_ task: Task<Void, any Error>, within limit: Duration) async -> Bool {
        let answered = Mutex(false)
        return await withCheckedContinuation { continuation in
            let answer: @Sendable (Bool) -> Void = { finished in
                if answered.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: finished) }
            }
            Task {
                _ = try? await task.value
                answer(true)
            }
            Task {
                try? await Task.sleep(for: limit)
                answer(false)
            }
        }
    }

    @Test func aCallToAClientWhosePoolNeverConnectsEndsAtItsDeadline() async throws {
        let client = RPCClient(
            configuration: RPCClientConfiguration(host: "127.0.0.1", port: 1, secret: testSecret),
            logger: quietLogger("test.rpc-client")
        )
        let error = await #expect(throws: RPCError.self) {
            try await client.call(TestMethods.echo, .init(1), timeout: .milliseconds(100))
        }
        #expect(error?.code == .deadlineExceeded)
    }

    @Test func aServerThatIsDownFailsCallsFastWithUnavailable() async throws {
        let port = try freeLoopbackPort()
        let client = RPCClient(
            configuration: RPCClientConfiguration(host: "127.0.0.1", port: port, secret: testSecret),
            logger: quietLogger("test.rpc-client")
        )
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await client.run() }
            let start = ContinuousClock.now
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.echo, .init(1), timeout: .seconds(5))
            }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("127.0.0.1:\(port)") == true)
            #expect(ContinuousClock.now - start < .seconds(2))
            group.cancelAll()
        }
    }
}
