import Foundation
@testable import GatehouseRPC
import NIOCore
import SwiftProtobuf
import Testing

/// The worked example in docs/protocol.md, byte for byte.
@Suite struct ProtocolDocumentTests {
    @Test func theWorkedExampleFrameIsWhatTheCodeSends() throws {
        var payload = Google_Protobuf_BytesValue()
        payload.value = Data("abc".utf8)
        var envelope = Gatehouse_Rpc_Envelope()
        envelope.id = 1
        envelope.method = "bench.Echo"
        envelope.timeoutMs = 250
        envelope.payload = try payload.serializedBytes()
        let frame = ByteBuffer(rpcFrameOf: envelope)
        let hex = frame.readableBytesView.map { String(format: "%02x", $0) }.joined(separator: " ")
        #expect(hex == "00 00 00 18 08 01 12 0a 62 65 6e 63 68 2e 45 63 68 6f 18 fa 01 2a 05 0a 03 61 62 63")
    }
}
