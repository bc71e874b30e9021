import Foundation
@testable import GatehouseRPC
import NIOCore
import SwiftProtobuf
import Testing

/// A request or an answer larger than the side that would receive it accepts fails that call alone
/// (`FRAME_TOO_LARGE`); the connection and the other calls on it go on (docs/protocol.md, "Frames").
@Suite(.timeLimit(.minutes(2)))
struct RPCFrameLimitTests {
    @Test func anAnswerLargerThanTheClientAcceptsFailsThatCallAloneAndTheConnectionGoesOn() async throws {
        try await withServerAndClient(clientMaximumFrameBytes: 64 * 1024, connections: 1) { client, _ in
            _ = try await client.call(TestMethods.echo, .init(0))
            let inFlight = Task { try await client.call(TestMethods.sleep, .init(300)) }
            try await Task.sleep(for: .milliseconds(50))
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.blob, .init(100_000))
            }
            #expect(error?.code == .frameTooLarge)
            #expect(error?.message.contains("test.Blob") == true && error?.message.contains("65536") == true, "\(String(describing: error))")
            #expect(try await inFlight.value.value == 300, "the call in flight on the same connection is answered")
            #expect(try await client.call(TestMethods.blob, .init(60_000)).value.count == 60_000)
        }
    }

    @Test func aRequestLargerThanTheServerAcceptsFailsThatCallAloneAndTheConnectionGoesOn() async throws {
        try await withServerAndClient(serverMaximumFrameBytes: 2048, connections: 1) { client, _ in
            _ = try await client.call(TestMethods.echo, .init(0))
            let inFlight = Task { try await client.call(TestMethods.sleep, .init(300)) }
            try await Task.sleep(for: .milliseconds(50))
            var large = Google_Protobuf_BytesValue()
            large.value = Data(count: 10_000)
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.measure, large)
            }
            #expect(error?.code == .frameTooLarge)
            #expect(error?.message.contains("test.Measure") == true && error?.message.contains("2048") == true, "\(String(describing: error))")
            #expect(try await inFlight.value.value == 300, "the call in flight on the same connection is answered")
            var small = Google_Protobuf_BytesValue()
            small.value = Data(count: 1_000)
            #expect(try await client.call(TestMethods.measure, small).value == 1_000)
        }
    }

    /// A peer that ignores the server's announced maximum: the server skips the frame unread, answers its
    /// call, and serves the next request of the same connection.
    @Test func aServerAnswersAnOversizedRequestItDidNotReadAndServesTheNextOne() async throws {
        try await withServerAndClient(serverMaximumFrameBytes: 2048) { _, port in
            let raw = try await connectRawRPC(port: port)
            try await raw.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                var handshake = RPCHandshake.Client(secret: testSecret)
                let hello = try #require(try await frames.next()).message(Gatehouse_Rpc_ServerHello.self)
                try await outbound.write(ByteBuffer(rpcFrameOf: try handshake.answer(hello, clientName: "raw")))
                try handshake.verify(try #require(try await frames.next()).message(Gatehouse_Rpc_HelloResult.self))

                var large = Google_Protobuf_BytesValue()
                large.value = Data(count: 100_000)
                var small = Google_Protobuf_BytesValue()
                small.value = Data(count: 3)
                var burst = ByteBuffer(rpcFrameOf: try envelope(id: 5, method: TestMethods.measure.name, payload: large))
                var next = ByteBuffer(rpcFrameOf: try envelope(id: 6, method: TestMethods.measure.name, payload: small))
                burst.writeBuffer(&next)
                try await outbound.write(burst)

                var answers: [UInt64: Gatehouse_Rpc_Envelope] = [:]
                for _ in 0..<2 {
                    let answer = try #require(try await frames.next(), "the server closed the connection").message(Gatehouse_Rpc_Envelope.self)
                    answers[answer.id] = answer
                }
                let refused = try #require(answers[5]?.failure)
                #expect(RPCError(refused).code == .frameTooLarge)
                #expect(refused.message.contains("2048"), "\(refused.message)")
                #expect(try Google_Protobuf_UInt64Value(serializedBytes: try #require(answers[6]?.payload)).value == 3)
            }
        }
    }

    /// A server that announces no maximum (one that predates the announcement) and sends an answer larger
    /// than the client accepts: the client skips it unread, fails that call, and keeps the connection.
    @Test func aClientSkipsAnOversizedAnswerOfAnOlderServerAndKeepsTheConnection() async throws {
        let listener = try await listenRawRPC()
        let port = try #require(listener.channel.localAddress?.port)
        let client = testClient(port: port, maximumFrameBytes: 64 * 1024)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            group.addTask {
                try await listener.executeThenClose { connections in
                    // Exactly one connection: a client that reconnected would find no server.
                    var accepted = connections.makeAsyncIterator()
                    let connection = try #require(try await accepted.next())
                    try await Self.serveAsAnOlderServer(connection)
                }
            }
            let error = await #expect(throws: RPCError.self) {
                try await client.call(TestMethods.blob, .init(200_000))
            }
            #expect(error?.code == .frameTooLarge)
            #expect(error?.message.contains("65536") == true, "\(String(describing: error))")
            let small = try await client.call(TestMethods.blob, .init(10))
            #expect(small.value.count == 10, "the same connection answers the next call")
            group.cancelAll()
        }
    }

    /// The handshake without `max_frame_bytes`, then every request answered as `test.Blob`, whatever its size.
    private static func serveAsAnOlderServer(_ connection: RawRPCChannel) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var frames = inbound.makeAsyncIterator()
            let nonce = RPCHandshake.makeNonce()
            var hello = Gatehouse_Rpc_ServerHello()
            hello.protocolVersion = RPCHandshake.protocolVersion
            hello.serverNonce = Data(nonce)
            try await outbound.write(ByteBuffer(rpcFrameOf: hello))
            let clientHello = try #require(try await frames.next()).message(Gatehouse_Rpc_ClientHello.self)
            var result = Gatehouse_Rpc_HelloResult()
            result.serverProof = Data(
                RPCHandshake.proof(secret: testSecret, label: RPCHandshake.serverLabel, first: Array(clientHello.clientNonce), second: nonce)
            )
            try await outbound.write(ByteBuffer(rpcFrameOf: result))
            while let frame = try await frames.next() {
                let request = try frame.message(Gatehouse_Rpc_Envelope.self)
                var blob = Google_Protobuf_BytesValue()
                blob.value = Data(repeating: 0x61, count: Int(try Google_Protobuf_UInt32Value(serializedBytes: request.payload).value))
                var answer = Gatehouse_Rpc_Envelope()
                answer.id = request.id
                answer.payload = try blob.serializedBytes()
                try await outbound.write(ByteBuffer(rpcFrameOf: answer))
            }
        }
    }
}
