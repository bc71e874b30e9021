import Foundation
@testable import GatehouseRPC
import NIOCore
import SwiftProtobuf
import Testing

/// After a failed hello the server answers once, closes, and reads nothing more; failed handshakes are
/// logged at most once per peer address per 10 s (docs/security.md, 6.15).
@Suite(.timeLimit(.minutes(2)))
struct RPCHandshakeRejectionTests {
    @Test func aBurstOfBadHellosOnOneConnectionIsAnsweredOnceLoggedOnceAndClosed() async throws {
        let log = LogRecorder()
        try await withServerAndClient(serverLogger: log.logger) { client, port in
            let raw = try await connectRawRPC(port: port)
            let answers = try await raw.executeThenClose { inbound, outbound in
                var frames = inbound.makeAsyncIterator()
                let hello = try #require(try await frames.next()).message(Gatehouse_Rpc_ServerHello.self)
                var impostor = RPCHandshake.Client(secret: try RPCSecret("wrong-secret-0123456789abcdef"))
                var burst = ByteBuffer()
                for _ in 0..<500 {
                    var frame = ByteBuffer(rpcFrameOf: try impostor.answer(hello, clientName: "impostor"))
                    burst.writeBuffer(&frame)
                }
                try await outbound.write(burst)
                // Everything the server sends until it closes (a reset, as the server leaves the burst unread, ends it too).
                var answers: [Gatehouse_Rpc_HelloResult] = []
                do {
                    while let frame = try await frames.next() { answers.append(try frame.message(Gatehouse_Rpc_HelloResult.self)) }
                } catch {
                    // A connection reset: the connection is closed all the same.
                }
                return answers
            }
            #expect(answers.count == 1, "one answer to the first hello, then the connection closes")
            #expect(answers.first.map { RPCError($0.failure).code } == .unauthenticated)
            #expect(log.lines("rejected rpc handshake").count == 1)
            // The server still serves clients that know the secret.
            #expect(try await client.call(TestMethods.echo, .init(9)).value == 9)
        }
    }

    @Test func failedHandshakesFromOneAddressAreLoggedOncePerIntervalWhateverTheirCause() async throws {
        let log = LogRecorder()
        try await withServerAndClient(serverLogger: log.logger) { _, port in
            for attempt in 0..<6 {
                let raw = try await connectRawRPC(port: port)
                try await raw.executeThenClose { inbound, outbound in
                    var frames = inbound.makeAsyncIterator()
                    let hello = try #require(try await frames.next()).message(Gatehouse_Rpc_ServerHello.self)
                    var impostor = RPCHandshake.Client(secret: try RPCSecret("wrong-secret-0123456789abcdef"))
                    var clientHello = try impostor.answer(hello, clientName: "impostor")
                    if attempt % 3 == 1 { clientHello.protocolVersion = 7 }
                    let frame = attempt % 3 == 2 ? ByteBuffer(bytes: [0, 0, 0, 3, 0xFF, 0xFF, 0xFF]) : ByteBuffer(rpcFrameOf: clientHello)
                    try await outbound.write(frame)
                    let result = try #require(try await frames.next()).message(Gatehouse_Rpc_HelloResult.self)
                    #expect(result.failure.code != .unspecified, "attempt \(attempt) is refused")
                }
            }
            let lines = log.lines("rejected rpc handshake")
            #expect(lines.count == 1, "\(lines.map(\.metadata))")
            #expect(lines.first?.metadata["rpc.suppressed"] == "0")
        }
    }
}
