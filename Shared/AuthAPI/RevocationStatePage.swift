/// One page of the issuer's revocation state (`auth.RevocationState`).
public struct RevocationStatePage: Sendable, Equatable {
    /// The issuer's newest revocation version when it answered.
    public var version: Int64
    /// The revocations of this page, in version order.
    public var revocations: [RevocationEvent]
    /// Where the next page starts (ask for the revocations after this version); `nil` on the last page,
    /// and from an issuer from before paging, which answers everything at once.
    public var nextAfterVersion: UInt64?

    /// Creates a page.
    public init(version: Int64, revocations: [RevocationEvent], nextAfterVersion: UInt64?) {
        (self.version, self.revocations, self.nextAfterVersion) = (version, revocations, nextAfterVersion)
    }
}
