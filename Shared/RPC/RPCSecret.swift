/// The shared service secret every peer must prove it knows during the RPC handshake.
///
/// Held as bytes; never logged (its description is redacted).
public struct RPCSecret: Sendable, CustomStringConvertible {
    /// The fewest bytes a secret may have: shorter secrets can be brute-forced from one captured handshake.
    public static let minimumLength = 16

    let bytes: [UInt8]

    /// Wraps a secret given as text (from configuration or an environment variable).
    /// - Parameter text: The secret; at least ``minimumLength`` bytes of UTF-8.
    /// - Throws: ``RPCConfigurationError`` when the secret is too short.
    public init(_ text: String) throws(RPCConfigurationError) {
        let bytes = Array(text.utf8)
        guard bytes.count >= Self.minimumLength else {
            throw RPCConfigurationError(
                "the RPC service secret has \(bytes.count) bytes; use at least \(Self.minimumLength) random bytes (e.g. `openssl rand -hex 32`)"
            )
        }
        self.bytes = bytes
    }

    /// Always `"<redacted>"`, so a secret never reaches a log line.
    public var description: String { "<redacted>" }
}

/// An RPC client or server was configured with a value it cannot use; the message names it.
public struct RPCConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and what to use instead.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    /// The message.
    public var description: String { self.message }
}
