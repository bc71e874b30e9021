import Foundation
import GatehouseRPC
import ServiceLifecycle
import Logging
import NIOCore
import NIOPosix
import SwiftProtobuf

/// Methods served by the in-process test server.
enum TestMethods {
    static let echo = RPCMethod<Google_Protobuf_UInt64Value, Google_Protobuf_UInt64Value>("test.Echo")
    static let sleep = RPCMethod<Google_Protobuf_UInt32Value, Google_Protobuf_UInt32Value>("test.Sleep")
    static let conflict = RPCMethod<Google_Protobuf_StringValue, Google_Protobuf_StringValue>("test.Conflict")
    static let crash = RPCMethod<Google_Protobuf_StringValue, Google_Protobuf_StringValue>("test.Crash")
    static let missing = RPCMethod<Google_Protobuf_StringValue, Google_Protobuf_StringValue>("test.Missing")
    /// Answers with as many bytes as asked for.
    static let blob = RPCMethod<Google_Protobuf_UInt32Value, Google_Protobuf_BytesValue>("test.Blob")
    /// Answers with the number of bytes sent.
    static let measure = RPCMethod<Google_Protobuf_BytesValue, Google_Protobuf_UInt64Value>("test.Measure")
}

struct UnexpectedHandlerFailure: Error {}

let testSecret = try! RPCSecret("test-secret-0123456789abcdef")

func testHandlers() -> RPCHandlerRegistry {
    var handlers = RPCHandlerRegistry()
    handlers.register(TestMethods.echo) { request, _ in request }
    handlers.register(TestMethods.sleep) { request, _ in
        try await Task.sleep(for: .milliseconds(request.value))
        return request
    }
    handlers.register(TestMethods.conflict) { request, _ in
        throw RPCError(.conflict, "document \(request.value) changed")
    }
    handlers.register(TestMethods.crash) { _, _ in
        throw UnexpectedHandlerFailure()
    }
    handlers.register(TestMethods.blob) { request, _ in
        var answer = Google_Protobuf_BytesValue()
        answer.value = Data(repeating: 0x61, count: Int(request.value))
        return answer
    }
    handlers.register(TestMethods.measure) { request, _ in .init(UInt64(request.value.count)) }
    return handlers
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

/// Runs an in-process server on a free port and a client connected to it for the duration of `body`.
func withServerAndClient(
    serverSecret: RPCSecret = testSecret,
    clientSecret: RPCSecret = testSecret,
    maximumInFlightPerConnection: Int = 256,
    serverMaximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes,
    clientMaximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes,
    connections: Int = 1,
    serverLogger: Logger = quietLogger("test.rpc-server"),
    body: @Sendable (RPCClient, Int) async throws -> Void
) async throws {
    let server = RPCServer(
        configuration: RPCServerConfiguration(
            secret: serverSecret,
            maximumFrameBytes: serverMaximumFrameBytes,
            maximumInFlightPerConnection: maximumInFlightPerConnection
        ),
        handlers: testHandlers(),
        logger: serverLogger
    )
    try await withThrowingTaskGroup { group in
        group.addTask { try await server.run() }
        let port = try await server.localPort()
        let client = testClient(port: port, secret: clientSecret, connections: connections, maximumFrameBytes: clientMaximumFrameBytes)
        group.addTask { try await client.run() }
        try await body(client, port)
        group.cancelAll()
    }
}

/// A client of a test server, patient enough for a loaded suite (10 s to connect and per call).
func testClient(port: Int, secret: RPCSecret = testSecret, connections: Int = 1, maximumFrameBytes: Int = RPCFrameLimit.defaultMaximumBytes) -> RPCClient {
    RPCClient(
        configuration: RPCClientConfiguration(
            host: "127.0.0.1",
            port: port,
            secret: secret,
            clientName: "tests",
            connections: connections,
            maximumFrameBytes: maximumFrameBytes,
            connectTimeout: .seconds(10),
            defaultCallTimeout: .seconds(10)
        ),
        logger: quietLogger("test.rpc-client")
    )
}

/// A server in a service group and a client of it, each running in an unstructured task, so a test can
/// shut the server down gracefully and check that each part stops (a part that does not is reported by
/// name instead of hanging the run).
struct StoppableServerAndClient {
    let serverGroup: ServiceGroup
    let serverTask: Task<Void, any Error>
    let client: RPCClient
    let clientTask: Task<Void, any Error>

    init(handlers: RPCHandlerRegistry = testHandlers(), connections: Int = 1) async throws {
        let server = RPCServer(configuration: RPCServerConfiguration(secret: testSecret), handlers: handlers, logger: quietLogger("test.rpc-server"))
        let serverGroup = ServiceGroup(services: [server], logger: quietLogger("test.group"))
        self.serverGroup = serverGroup
        self.serverTask = Task { try await serverGroup.run() }
        let client = testClient(port: try await server.localPort(), connections: connections)
        self.client = client
        self.clientTask = Task { try await client.run() }
    }
}

extension Google_Protobuf_UInt64Value {
    init(_ value: UInt64) {
        self.init()
        self.value = value
    }
}

extension Google_Protobuf_UInt32Value {
    init(_ value: UInt32) {
        self.init()
        self.value = value
    }
}

extension Google_Protobuf_StringValue {
    init(_ value: String) {
        self.init()
        self.value = value
    }
}
