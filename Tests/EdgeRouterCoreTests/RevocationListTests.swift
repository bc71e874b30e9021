import EdgeRouterCore
import GatehouseAuthAPI
import Testing

/// Revocations applied in version order, gaps detected, state replaced.
struct RevocationListTests {
    @Test func appliesInOrderAndReportsRepeatsAndGaps() {
        let list = RevocationList()
        #expect(list.apply(RevocationEvent(version: 1, target: .token(jti: "a", expiresAt: 2_000))) == .applied)
        #expect(list.apply(RevocationEvent(version: 1, target: .token(jti: "a", expiresAt: 2_000))) == .duplicate)
        #expect(list.apply(RevocationEvent(version: 3, target: .subject("alice", issuedBefore: 1_500))) == .gap(expected: 2, received: 3))
        #expect(list.version == 3)
        #expect(list.isRevoked(jti: "a", subject: "bob", issuedAt: 1_000))
        #expect(list.isRevoked(jti: "x", subject: "alice", issuedAt: 1_499))
        #expect(!list.isRevoked(jti: "x", subject: "alice", issuedAt: 1_500), "a token issued at or after the cut-off is valid")
        #expect(!list.isRevoked(jti: "y", subject: "bob", issuedAt: 1_000))
    }

    @Test func theIssuersStateReplacesEverything() {
        let list = RevocationList()
        _ = list.apply(RevocationEvent(version: 1, target: .token(jti: "gone", expiresAt: 9_999)))
        list.replace(version: 7, revocations: [RevocationEvent(version: 7, target: .token(jti: "b", expiresAt: 2_000))])
        #expect(list.version == 7)
        #expect(!list.isRevoked(jti: "gone", subject: "s", issuedAt: 0))
        #expect(list.isRevoked(jti: "b", subject: "s", issuedAt: 0))
        #expect(list.apply(RevocationEvent(version: 8, target: .token(jti: "c", expiresAt: 2_000))) == .applied)
    }

    @Test func pruningForgetsWhatCanNoLongerMatter() {
        let list = RevocationList()
        _ = list.apply(RevocationEvent(version: 1, target: .token(jti: "old", expiresAt: 1_000)))
        _ = list.apply(RevocationEvent(version: 2, target: .token(jti: "live", expiresAt: 5_000)))
        _ = list.apply(RevocationEvent(version: 3, target: .subject("s", issuedBefore: 1_000)))
        list.prune(now: 2_000, longestLifetime: 900)
        #expect(list.count == 1)
        #expect(list.isRevoked(jti: "live", subject: "x", issuedAt: 0))
    }
}
