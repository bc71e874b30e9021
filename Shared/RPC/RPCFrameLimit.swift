/// The frame sizes the two ends of a connection work with (docs/protocol.md, "Frames").
///
/// Each end has a maximum payload it accepts and announces it in its hello; a sender never sends a frame
/// the receiver's maximum refuses.
public enum RPCFrameLimit {
    /// The default maximum payload, 4 MiB (`rpc.max_frame_bytes`, `<peer>.max_frame_bytes`), and what a peer
    /// that announces no maximum (one older than the announcement) is taken to accept.
    public static let defaultMaximumBytes = 4 * 1024 * 1024

    /// The maximums the settings accept: 1 KiB to 256 MiB.
    public static let settingRange = 1024...(256 << 20)

    /// The bytes an answer `Envelope` adds around its response message: the `id` field (a tag and a varint
    /// of at most 10 bytes) and the `payload` field's tag and length (a varint of at most 5 bytes).
    public static let answerEnvelopeBytes = 17

    /// The maximum a peer accepts, from what its hello announced.
    /// - Parameter announced: The hello's `max_frame_bytes`; 0 when the peer sent none.
    /// - Returns: The announced maximum, or ``defaultMaximumBytes`` for 0.
    static func peerMaximum(announced: UInt32) -> Int {
        announced == 0 ? self.defaultMaximumBytes : Int(announced)
    }
}
