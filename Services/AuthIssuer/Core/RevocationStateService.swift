import GatehouseAuthAPI
import GatehouseRPC

/// Serves `auth.RevocationState`: the revocations still in force, for an edge router that missed events.
public struct RevocationStateService: Sendable {
    private let store: AuthStore

    /// Creates the service over the issuer's database.
    public init(store: AuthStore) {
        self.store = store
    }

    /// The handlers to give the RPC server.
    public var rpcHandlers: RPCHandlerRegistry {
        var handlers = RPCHandlerRegistry()
        handlers.register(AuthMethods.revocationState) { _, _ in try await self.state() }
        return handlers
    }

    /// The current state as the RPC answer.
    /// - Throws: ``RPCError`` `unavailable` when the database fails.
    func state() async throws -> Gatehouse_Auth_RevocationStateResponse {
        let (version, events): (Int64, [RevocationEvent])
        do {
            (version, events) = try await self.store.revocationState()
        } catch {
            throw RPCError(.unavailable, "the auth database is unavailable: \(error)")
        }
        var response = Gatehouse_Auth_RevocationStateResponse()
        response.version = UInt64(version)
        response.revocations = events.map { event in
            var revocation = Gatehouse_Auth_Revocation()
            revocation.version = UInt64(event.version)
            switch event.target {
            case .token(let jti, let expiresAt):
                var token = Gatehouse_Auth_TokenRevocation()
                token.jti = jti
                token.expiresAt = expiresAt
                revocation.token = token
            case .subject(let subject, let issuedBefore):
                var target = Gatehouse_Auth_SubjectRevocation()
                target.subject = subject
                target.issuedBefore = issuedBefore
                revocation.subject = target
            }
            return revocation
        }
        return response
    }
}
