import AuthIssuerCore
import GatehouseAuthAPI
import GatehouseRPC
import GatehouseTestSupport
import Testing

/// ``AuthClient`` against the issuer's own `auth.RevocationState` service over a real RPC server and a real
/// SQLite store: its pages, and the failures its callers see as ``AuthClientError``s.
@Suite struct AuthClientTests {
    @Test func revocationStatePagesChainUpToTheLastOne() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        try await store.revokeAccessTokens((1...60).map { "t\($0)" }, expiresAt: 4_000_000_000)
        _ = try await store.revokeSubject("mallory")
        try await IssuerRevocationRPC.with(store: store) { client, _ in
            let auth = AuthClient(rpc: client)
            var received: [RevocationEvent] = []
            var (after, pages) = (UInt64(0), 0)
            while true {
                let page = try await auth.revocationState(after: after, maximumBytes: RevocationStateService.minimumPageBytes)
                pages += 1
                #expect(page.version == 61)
                #expect(page.revocations.allSatisfy { $0.version > Int64(after) }, "a page holds what comes after the version asked")
                received += page.revocations
                guard let next = page.nextAfterVersion else { break }
                #expect(next == UInt64(received.last?.version ?? 0))
                after = next
            }
            #expect(pages >= 3, "512 bytes hold a few revocations only")
            #expect(received.map(\.version) == Array(1...61))
            guard case .subject(let subject, _)? = received.last?.target else {
                Issue.record("the last revocation is not the subject's: \(String(describing: received.last))")
                return
            }
            #expect(subject == "mallory")
        }
    }

    @Test func anIssuerWithoutTheMethodIsAnOlderOne() async throws {
        let store = try await AuthStore(path: try TestFolder().path("auth.sqlite"))
        let reason = try await IssuerRevocationRPC.with(store: store, handlers: RPCHandlerRegistry()) { client, _ in
            await #expect(throws: AuthClientError.self) { try await AuthClient(rpc: client).revocationState(after: 0, maximumBytes: 65_536) }?.reason
        }
        #expect(reason == .methodUnknown)
    }

    @Test func anIssuerNobodyListensForIsUnreachable() async throws {
        let reason = try await withUnreachableRPCClient(secret: IssuerRevocationRPC.secret) { client in
            await #expect(throws: AuthClientError.self) { try await AuthClient(rpc: client).revocationState(after: 0, maximumBytes: 65_536) }?.reason
        }
        #expect(reason == .unreachable)
    }
}
