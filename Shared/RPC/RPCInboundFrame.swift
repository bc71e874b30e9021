import NIOCore

/// What ``RPCFrameDecoder`` hands on for each frame.
///
/// No larger than a `ByteBuffer` (the rare `tooLarge` case is boxed), so it travels through the pipeline
/// inside `NIOAny` without a heap allocation per frame.
enum RPCInboundFrame: Equatable, Sendable {
    /// A frame within the maximum: its payload, without the length prefix.
    case payload(ByteBuffer)
    /// A frame longer than the maximum, whose bytes are skipped unread.
    indirect case tooLarge(RPCOversizedFrame)
}

/// A frame whose announced length exceeded the receiver's maximum (docs/protocol.md, "Frames").
struct RPCOversizedFrame: Equatable, Sendable, CustomStringConvertible {
    /// How many first payload bytes the decoder waits for to find the call: a tag byte and a varint of up to 10 bytes.
    static let callIDPrefixBytes = 11

    /// The payload length the sender announced.
    let length: Int
    /// The receiver's maximum.
    let maximum: Int
    /// The `id` of the `Envelope` the frame carries, when its payload starts with that field (as every
    /// Gatehouse sender and any protobuf serializer writing fields in number order does); nil otherwise.
    let callID: UInt64?

    /// `frame of 5000000 bytes exceeds the maximum of 4194304 bytes`.
    var description: String {
        "frame of \(self.length) bytes exceeds the maximum of \(self.maximum) bytes"
    }

    /// The `Envelope.id` at the start of a payload: field 1 as a varint (tag byte `0x08`), not 0.
    /// - Parameter prefix: The payload's first bytes (up to ``callIDPrefixBytes``).
    /// - Returns: The id, or nil when the payload does not start with a whole non-zero `id` field.
    static func leadingCallID(_ prefix: ByteBuffer) -> UInt64? {
        let bytes = prefix.readableBytesView
        guard bytes.first == 0x08 else { return nil }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes.dropFirst() {
            value |= UInt64(byte & 0x7F) &<< shift
            if byte & 0x80 == 0 { return value == 0 ? nil : value }
            shift += 7
        }
        return nil
    }
}
