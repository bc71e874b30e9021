import GatehouseEvents

/// What the auth issuer publishes on its key channel whenever the set of published signing keys changes
/// (a rotation, or a retired key leaving the JWKS), so edges fetch the JWKS again at once
/// (docs/protocol.md, "Key events").
///
/// ```json
/// {"generation":3,"signing_kid":"k-…","published_kids":["k-…","k-…","k-…"]}
/// ```
public struct SigningKeyEvent: EventMessage, Equatable {
    /// Increases by one with every change of the key set.
    public let generation: Int64
    /// The key that signs new tokens from now on.
    public let signingKID: String
    /// Every key in the JWKS: the signing key, the next one, and retired keys whose tokens may still be valid.
    public let publishedKIDs: [String]

    /// The default Redis channel.
    public static let defaultChannel = "gatehouse:auth:keys"

    /// Creates an event.
    public init(generation: Int64, signingKID: String, publishedKIDs: [String]) {
        self.generation = generation
        self.signingKID = signingKID
        self.publishedKIDs = publishedKIDs
    }

    private enum CodingKeys: String, CodingKey {
        case generation
        case signingKID = "signing_kid"
        case publishedKIDs = "published_kids"
    }
}
