import EdgeRouterCore
import GatehouseAuthAPI
import GatehouseEvents
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
        list.replace(list.beginReplacement(), version: 7, revocations: [RevocationEvent(version: 7, target: .token(jti: "b", expiresAt: 2_000))])
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
        list.prune(now: 2_000, leeway: 30)
        #expect(list.count == 1)
        #expect(list.isRevoked(jti: "live", subject: "x", issuedAt: 0))
    }

    @Test func revocationsAreKeptThroughTheLeewayAndSubjectsThroughTheLongestLifetimeToo() {
        let list = RevocationList()
        _ = list.apply(RevocationEvent(version: 1, target: .token(jti: "t", expiresAt: 10_000)))
        _ = list.apply(RevocationEvent(version: 2, target: .subject("s", issuedBefore: 10_000)))
        list.prune(now: 10_000 + 120, leeway: 240)
        #expect(list.isRevoked(jti: "t", subject: "x", issuedAt: 0), "the token is accepted until exp + 240 s, so it stays revoked")
        list.prune(now: 10_000 + 241, leeway: 240)
        #expect(!list.isRevoked(jti: "t", subject: "x", issuedAt: 0))
        list.prune(now: 10_000 + 900 + 240, leeway: 240)
        #expect(list.isRevoked(jti: "y", subject: "s", issuedAt: 9_999), "issued before the cut-off, valid up to 900 s, plus the leeway")
        list.prune(now: 10_000 + 900 + 241, leeway: 240)
        #expect(list.count == 0)
    }

    @Test func eventsArrivingWhileTheStateIsFetchedAreKeptAndOnesBeforeItAreReplaced() {
        let list = RevocationList()
        #expect(list.apply(RevocationEvent(version: 1, target: .token(jti: "a", expiresAt: 9_999))) == .applied)
        // A forged event (or any other) applied before the fetch began: the state replaces it.
        #expect(list.apply(RevocationEvent(version: 1_000, target: .subject("victim", issuedBefore: 9_999))) == .gap(expected: 2, received: 1_000))
        let replacement = list.beginReplacement()
        // The issuer's state is read at version 3; events 4 and 5 are published and arrive during the fetch.
        _ = list.apply(RevocationEvent(version: 4, target: .token(jti: "d", expiresAt: 9_999)))
        _ = list.apply(RevocationEvent(version: 5, target: .token(jti: "e", expiresAt: 9_999)))
        let state = [1, 2, 3].map { RevocationEvent(version: Int64($0), target: .token(jti: ["a", "b", "c"][$0 - 1], expiresAt: 9_999)) }
        #expect(list.replace(replacement, version: 3, revocations: state) == .applied)
        #expect(list.version == 5)
        for jti in ["a", "b", "c", "d", "e"] { #expect(list.isRevoked(jti: jti, subject: "x", issuedAt: 0), "\(jti)") }
        #expect(!list.isRevoked(jti: "z", subject: "victim", issuedAt: 0), "the forged revocation is undone")
        #expect(list.apply(RevocationEvent(version: 6, target: .token(jti: "f", expiresAt: 9_999))) == .applied)

        // A gap among the events of the fetch is reported, so the state is fetched again.
        let second = list.beginReplacement()
        _ = list.apply(RevocationEvent(version: 9, target: .token(jti: "i", expiresAt: 9_999)))
        #expect(list.replace(second, version: 7, revocations: []) == .gap(expected: 8, received: 9))
        #expect(list.isRevoked(jti: "i", subject: "x", issuedAt: 0))

        // Two fetches at once: the one that began first and ends last changes nothing.
        let older = list.beginReplacement()
        _ = list.apply(RevocationEvent(version: 10, target: .token(jti: "j", expiresAt: 9_999)))
        let newer = list.beginReplacement()
        #expect(list.replace(newer, version: 11, revocations: [RevocationEvent(version: 11, target: .token(jti: "k", expiresAt: 9_999))]) == .applied)
        #expect(list.replace(older, version: 10, revocations: []) == .duplicate)
        #expect(list.isRevoked(jti: "k", subject: "x", issuedAt: 0))
        let failed = list.beginReplacement()
        list.abandon(failed)
        #expect(list.version == 11)
        // A later fetch, with no event since the last one, replaces the list again.
        let again = list.beginReplacement()
        #expect(list.replace(again, version: 12, revocations: [RevocationEvent(version: 12, target: .token(jti: "l", expiresAt: 9_999))]) == .applied)
        #expect(list.isRevoked(jti: "l", subject: "x", issuedAt: 0) && !list.isRevoked(jti: "k", subject: "x", issuedAt: 0))
    }
}
