import Foundation
import GatehouseRPC
import GatehouseTestSupport
import SwiftProtobuf
import Testing

/// `gatehouse-bench rpc-server` as a child process, so a test can kill it like a crash would.
final class BenchServerProcess {
    let port: Int
    private let folder: TestFolder
    private let process: ServiceProcess

    /// Starts the server and waits until it accepts connections on `port`.
    init(port: Int) async throws {
        self.port = port
        self.folder = try TestFolder()
        self.process = try ServiceProcess.start(
            product: "GatehouseBench", arguments: ["rpc-server", "--port", "\(port)"],
            environment: ["GATEHOUSE_RPC_SECRET": "test-secret-0123456789abcdef"], logPath: self.folder.path("rpc-server.log")
        )
        let deadline = ContinuousClock.now + .seconds(20)
        while (try? RawTCPConnection(port: port)) == nil {
            if let exit = self.process.exitStatus { throw ServiceProcessError(description: "rpc-server ended (\(exit)):\n\(self.process.logTail)") }
            if ContinuousClock.now >= deadline { throw ServiceProcessError(description: "rpc-server did not listen:\n\(self.process.logTail)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGKILL: no graceful shutdown, connections drop as in a crash (returns once the process is gone).
    func kill() {
        self.process.kill()
    }
}

enum BenchMethods {
    static let sleep = RPCMethod<Google_Protobuf_UInt32Value, Google_Protobuf_UInt32Value>("bench.Sleep")
}

@Suite struct RPCServerProcessTests {
    @Test func pendingCallsFailFastWhenTheServerDiesAndTheClientReconnectsWhenItReturns() async throws {
        let port = try freeLoopbackPort()
        let server = try await BenchServerProcess(port: port)
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
            let ready = try await client.call(BenchMethods.sleep, .init(0))
            #expect(ready.value == 0)

            let pending = Task { try await client.call(BenchMethods.sleep, .init(10_000), timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(100))
            server.kill()
            // Measured from when the process is gone (kill() waits for it), not including that wait.
            let killedAt = ContinuousClock.now
            await #expect(throws: RPCError(.unavailable, "the connection to 127.0.0.1:\(port) closed before the answer arrived")) {
                _ = try await pending.value
            }
            #expect(ContinuousClock.now - killedAt < .seconds(1), "a pending call must fail as soon as the connection drops")

            let restarted = try await BenchServerProcess(port: port)
            var answered = false
            for _ in 0..<50 where !answered {
                answered = (try? await client.call(BenchMethods.sleep, .init(1), timeout: .milliseconds(200)))?.value == 1
                if !answered { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(answered, "the client must reconnect once the server is back")
            restarted.kill()
            group.cancelAll()
        }
    }
}
