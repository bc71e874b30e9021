import GatehouseRPC

/// The auth issuer as its callers speak to it: revocations as ``RevocationEvent``s, failures as
/// ``AuthClientError``s; the wire messages (``AuthMethods``) stay inside. Every call goes over one
/// ``RPCClient`` (of the issuer's `auth.*` port), whose `run()` its owner keeps going.
public struct AuthClient: Sendable {
    private let rpc: RPCClient

    /// Creates a client over a connection pool to the issuer.
    public init(rpc: RPCClient) {
        self.rpc = rpc
    }

    /// One page of the revocation state (`auth.RevocationState`): the revocations above `afterVersion`, at most
    /// about `maximumBytes` of them (docs/protocol.md, "Auth issuer").
    /// - Throws: ``AuthClientError``; `CancellationError` when the calling task is cancelled.
    public func revocationState(after afterVersion: UInt64, maximumBytes: Int) async throws -> RevocationStatePage {
        var request = Gatehouse_Auth_RevocationStateRequest()
        (request.afterVersion, request.maxBytes) = (afterVersion, UInt32(clamping: maximumBytes))
        let page = try await self.rpc.call(AuthMethods.revocationState, request, traceID: nil, failingWith: AuthFailure.self)
        return RevocationStatePage(
            version: Int64(clamping: page.version), revocations: page.revocations.map(RevocationEvent.init(state:)),
            nextAfterVersion: page.nextAfterVersion == 0 ? nil : page.nextAfterVersion
        )
    }
}
