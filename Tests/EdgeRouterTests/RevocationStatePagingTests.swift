import AuthIssuerCore
import EdgeRouterCore
import GatehouseAuthAPI
import GatehouseRPC
import GatehouseTestSupport
import SwiftProtobuf
import Testing

/// `auth.RevocationState` in pages that each fit a frame, so a state of any size reaches the edge whole,
/// even while revocations change between pages (issue 23, item 2).
@Suite(.timeLimit(.minutes(3)))
struct RevocationStatePagingTests {
    @Test func aStateOf150000RevocationsLoadsCompletelyIntoTheEdgesListThroughTheRealRPC() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        let expiry: Int64 = 4_000_000_000
        // 22 characters, as the issuer's own jti (128 random bits, base64url).
        func jti(_ number: Int) -> String { "jti-" + String(repeating: "0", count: 18 - String(number).count) + String(number) }
        try await store.revokeAccessTokens((1...149_000).map(jti), expiresAt: expiry)
        for index in 1...1_000 { _ = try await store.revokeSubject("user-\(index)") }

        let list = RevocationList()
        try await IssuerRevocationRPC.with(store: store) { client, configuration in
            let replacement = list.beginReplacement()
            let state = try await RevocationStateFetcher(client: AuthClient(rpc: client), maximumFrameBytes: configuration.maximumFrameBytes).fetch()
            list.replace(replacement, version: state.version, revocations: state.revocations)

            // Each page fits what the caller said it accepts.
            var request = Gatehouse_Auth_RevocationStateRequest()
            request.maxBytes = 65_536
            let page = try await client.call(AuthMethods.revocationState, request)
            #expect((try page.serializedBytes() as [UInt8]).count <= 65_536)
            #expect(page.nextAfterVersion == page.revocations.last?.version && page.nextAfterVersion > 0)
        }
        #expect(list.count == 150_000)
        #expect(list.version == 150_000)
        for number in [1, 74_500, 149_000] { #expect(list.isRevoked(jti: jti(number), subject: "x", issuedAt: 0), "\(jti(number))") }
        #expect(list.isRevoked(jti: "other", subject: "user-1000", issuedAt: 0))
        #expect(!list.isRevoked(jti: jti(149_001), subject: "x", issuedAt: 0))
    }

    @Test func pagesReadWhileRevocationsChangeAddUpToTheStateOfTheLastPage() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        try await store.revokeAccessTokens((1...60).map { "t\($0)" }, expiresAt: 4_000_000_000)
        // 512 bytes hold about twenty of these: three pages at least.
        let list = RevocationList()
        try await IssuerRevocationRPC.with(store: store) { client, _ in
            var request = Gatehouse_Auth_RevocationStateRequest()
            request.maxBytes = UInt32(RevocationStateService.minimumPageBytes)
            let replacement = list.beginReplacement()
            var received: [RevocationEvent] = []
            var pages = 0
            var version: UInt64 = 0
            while true {
                let page = try await client.call(AuthMethods.revocationState, request)
                pages += 1
                #expect((try page.serializedBytes() as [UInt8]).count <= RevocationStateService.minimumPageBytes)
                received += page.revocations.map { revocation in
                    if case .subject(let subject) = revocation.target {
                        return RevocationEvent(version: Int64(revocation.version), target: .subject(subject.subject, issuedBefore: subject.issuedBefore))
                    }
                    return RevocationEvent(version: Int64(revocation.version), target: .token(jti: revocation.token.jti, expiresAt: revocation.token.expiresAt))
                }
                version = page.version
                if pages == 1 {
                    // Between pages: t1 (already received) gets a later expiry, so its entry moves to a
                    // new version; a new token and a subject are revoked.
                    _ = try await store.revokeAccessToken(jti: "t1", expiresAt: 4_100_000_000)
                    _ = try await store.revokeAccessToken(jti: "t61", expiresAt: 4_000_000_000)
                    _ = try await store.revokeSubject("mallory")
                }
                guard page.nextAfterVersion != 0 else { break }
                request.afterVersion = page.nextAfterVersion
            }
            #expect(pages >= 3, "512 bytes hold a few revocations only")
            #expect(version == 63)
            list.replace(replacement, version: Int64(version), revocations: received)
        }
        #expect(list.version == 63)
        for jti in (1...61).map({ "t\($0)" }) { #expect(list.isRevoked(jti: jti, subject: "x", issuedAt: 0), "\(jti)") }
        #expect(list.isRevoked(jti: "x", subject: "mallory", issuedAt: 0))
        let stored = try await store.revocationState()
        #expect(stored.revocations.count == 62, "one row per jti and subject")
    }

    @Test func olderPeersOnEitherSideStillExchangeTheWholeState() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        try await store.revokeAccessTokens((1...300).map { "t\($0)" }, expiresAt: 4_000_000_000)
        // An edge from before paging sends an empty request: everything comes in one answer.
        let whole = try await IssuerRevocationRPC.with(store: store) { client, _ in
            try await client.call(AuthMethods.revocationState, Gatehouse_Auth_RevocationStateRequest())
        }
        #expect(whole.revocations.count == 300 && whole.version == 300 && whole.nextAfterVersion == 0)
        let tooSmall = try await IssuerRevocationRPC.with(store: store) { client, _ in
            var request = Gatehouse_Auth_RevocationStateRequest()
            request.maxBytes = 100
            return await #expect(throws: RPCError.self) { try await client.call(AuthMethods.revocationState, request) }
        }
        #expect(tooSmall?.code == .invalidArgument)

        // An issuer from before paging ignores the request's fields and answers everything at once.
        var before = RPCHandlerRegistry()
        before.register(AuthMethods.revocationState) { _, _ in whole }
        let state = try await IssuerRevocationRPC.with(store: store, handlers: before) { client, configuration in
            try await RevocationStateFetcher(client: AuthClient(rpc: client), maximumFrameBytes: configuration.maximumFrameBytes).fetch()
        }
        #expect(state.version == 300)
        #expect(state.revocations.count == 300)
    }
}
