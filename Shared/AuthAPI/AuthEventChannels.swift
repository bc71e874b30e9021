import GatehouseConfig

/// The Redis channels of the issuer's events, on which the issuer publishes and every edge router
/// subscribes: read from the same keys with the same defaults in both services' configurations
/// (`events.revocations_channel`, `events.keys_channel`), so that the two agree unless told otherwise.
public struct AuthEventChannels: Sendable {
    /// The channel of revocation events (``RevocationEvent``; `events.revocations_channel`).
    public var revocations: String
    /// The channel of key events (``SigningKeyEvent``; `events.keys_channel`).
    public var keys: String

    /// Reads `events.revocations_channel` and `events.keys_channel`.
    /// - Parameter document: The service's configuration.
    /// - Throws: ``ConfigError`` naming the bad key.
    public init(reading document: inout ConfigDocument) throws(ConfigError) {
        self.revocations = try document.string("events.revocations_channel", default: RevocationEvent.defaultChannel)
        self.keys = try document.string("events.keys_channel", default: SigningKeyEvent.defaultChannel)
    }
}
