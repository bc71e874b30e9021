import GatehouseRPC
import GatehouseTestSupport
import SwiftProtobuf
import Testing

/// A client whose server dies as a crashed process does: the real server, in process, behind a relay
/// (``RPCFrameGate``) on the port the client knows; stopping the relay drops its listening socket and every
/// connection at once, without the server's graceful drain, and a new relay on the same port is the server
/// back where the client expects it.
@Suite struct RPCServerCrashTests {
    @Test func pendingCallsFailFastWhenTheServerDiesAndTheClientReconnectsWhenItReturns() async throws {
        try await withServerAndClient { _, serverPort in
            let gate = try RPCFrameGate(target: serverPort)
            let port = gate.port
            let client = RPCClient(
                configuration: RPCClientConfiguration(
                    host: "127.0.0.1",
                    port: port,
                    secret: testSecret,
                    connections: 1,
                    connectTimeout: .seconds(10),
                    defaultCallTimeout: .seconds(10),
                    maximumReconnectDelay: .milliseconds(200)
                ),
                logger: quietLogger("test.rpc-client")
            )
            try await withThrowingTaskGroup { group in
                group.addTask { try await client.run() }
                let ready = try await client.call(TestMethods.sleep, .init(0))
                #expect(ready.value == 0)

                let pending = Task { try await client.call(TestMethods.sleep, .init(10_000), timeout: .seconds(30)) }
                try await Task.sleep(for: .milliseconds(100))
                gate.stop()
                let killedAt = ContinuousClock.now
                await #expect(throws: RPCError(.unavailable, "the connection to 127.0.0.1:\(port) closed before the answer arrived")) {
                    _ = try await pending.value
                }
                #expect(ContinuousClock.now - killedAt < .seconds(1), "a pending call must fail as soon as the connection drops")

                let restarted = try RPCFrameGate(target: serverPort, port: port)
                defer { restarted.stop() }
                var answered = false
                for _ in 0..<50 where !answered {
                    answered = (try? await client.call(TestMethods.sleep, .init(1), timeout: .milliseconds(200)))?.value == 1
                    if !answered { try await Task.sleep(for: .milliseconds(100)) }
                }
                #expect(answered, "the client must reconnect once the server is back")
                group.cancelAll()
            }
        }
    }
}
