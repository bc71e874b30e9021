import Foundation
@testable import GatehouseRPC
import Testing

@Suite struct RPCHandshakeTests {
    @Test func peersWithTheSameSecretAuthenticateEachOther() throws {
        let server = RPCHandshake.Server(secret: testSecret)
        var client = RPCHandshake.Client(secret: testSecret)
        let hello = try client.answer(server.hello, clientName: "tests")
        let accepted = try server.answer(hello).get()
        try client.verify(accepted.result)
    }

    @Test func eachSideLearnsTheOthersFrameMaximumAndAPeerThatAnnouncesNoneIsTakenToAccept4MiB() throws {
        let server = RPCHandshake.Server(secret: testSecret, maximumFrameBytes: 2048)
        var client = RPCHandshake.Client(secret: testSecret, maximumFrameBytes: 65536)
        var hello = try client.answer(server.hello, clientName: "tests")
        #expect(client.serverMaximumFrameBytes == 2048)
        #expect(try server.answer(hello).get().clientMaximumFrameBytes == 65536)

        hello.maxFrameBytes = 0
        #expect(try server.answer(hello).get().clientMaximumFrameBytes == 4 * 1024 * 1024)
        var olderServerHello = server.hello
        olderServerHello.maxFrameBytes = 0
        var another = RPCHandshake.Client(secret: testSecret)
        _ = try another.answer(olderServerHello, clientName: "tests")
        #expect(another.serverMaximumFrameBytes == 4 * 1024 * 1024)
    }

    @Test func aWrongClientSecretIsRejected() throws {
        let server = RPCHandshake.Server(secret: testSecret)
        var client = RPCHandshake.Client(secret: try RPCSecret("another-secret-0123456789"))
        let hello = try client.answer(server.hello, clientName: "tests")
        #expect(throws: RPCError(.unauthenticated, "client proof does not match: the service secrets differ")) {
            try server.answer(hello).get()
        }
    }

    @Test func aServerThatDoesNotKnowTheSecretIsRejectedByTheClient() throws {
        let impostor = RPCHandshake.Server(secret: try RPCSecret("impostor-secret-0123456789"))
        var client = RPCHandshake.Client(secret: testSecret)
        _ = try client.answer(impostor.hello, clientName: "tests")
        var forged = Gatehouse_Rpc_HelloResult()
        forged.serverProof = Data(repeating: 7, count: 32)
        #expect(throws: RPCError.self) { try client.verify(forged) }
    }

    @Test func aDifferentProtocolVersionIsRejectedWithBothVersions() throws {
        let server = RPCHandshake.Server(secret: testSecret)
        var client = RPCHandshake.Client(secret: testSecret)
        var hello = try client.answer(server.hello, clientName: "tests")
        hello.protocolVersion = 2
        let error = try #require(throws: RPCError.self) { try server.answer(hello).get() }
        #expect(error.code == .versionMismatch)
        #expect(error.message.contains("version 2"))
    }

    @Test func aShortSecretIsRefusedWithAClearMessage() {
        let error = #expect(throws: RPCConfigurationError.self) { try RPCSecret("short") }
        #expect(error?.message.contains("at least 16") == true)
    }
}
