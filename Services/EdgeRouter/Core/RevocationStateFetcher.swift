import GatehouseAuthAPI
import GatehouseRPC

/// Fetches the issuer's whole revocation state with `auth.RevocationState`, page by page
/// (docs/protocol.md, "Auth issuer").
///
/// Each page asks for the revocations above the last version received, at most as many bytes as this
/// edge's frame limit allows, until a page says it is the last. The pages together hold every revocation
/// the issuer stores at the time of the last page (one replaced meanwhile appears again under its new,
/// higher version), so the state's version is the last page's. An issuer from before paging ignores the
/// request's fields and answers everything at once, without `next_after_version`: that is the last page.
package struct RevocationStateFetcher: Sendable {
    /// Why the state could not be fetched, besides the RPC's own errors.
    package struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        package let description: String
    }

    private let client: RPCClient
    private let maximumAnswerBytes: UInt32

    /// Creates a fetcher.
    /// - Parameters:
    ///   - client: The RPC client of the issuer (its `auth.*` port).
    ///   - maximumFrameBytes: The largest frame the client accepts; each page is asked to fit in one.
    package init(client: RPCClient, maximumFrameBytes: Int) {
        self.client = client
        // The frame also carries its length prefix and the envelope around the answer.
        self.maximumAnswerBytes = UInt32(clamping: max(512, maximumFrameBytes - 32))
    }

    /// Fetches every page.
    /// - Returns: The version of the last page and every revocation of all pages, in version order.
    /// - Throws: The RPC's error, or ``Failure`` when the issuer's pages do not advance.
    package func fetch() async throws -> (version: Int64, revocations: [RevocationEvent]) {
        var request = Gatehouse_Auth_RevocationStateRequest()
        request.maxBytes = self.maximumAnswerBytes
        var revocations: [RevocationEvent] = []
        while true {
            let page = try await self.client.call(AuthMethods.revocationState, request)
            revocations.reserveCapacity(revocations.count + page.revocations.count)
            for revocation in page.revocations { revocations.append(RevocationEvent(state: revocation)) }
            guard page.nextAfterVersion != 0 else { return (Int64(clamping: page.version), revocations) }
            guard page.nextAfterVersion > request.afterVersion else {
                throw Failure(description: "the issuer's revocation state does not advance: page after version \(request.afterVersion) ends at \(page.nextAfterVersion)")
            }
            request.afterVersion = page.nextAfterVersion
        }
    }
}

extension RevocationEvent {
    /// A revocation of the issuer's state as an event.
    init(state revocation: Gatehouse_Auth_Revocation) {
        if case .subject(let subject) = revocation.target {
            self.init(version: Int64(clamping: revocation.version), target: .subject(subject.subject, issuedBefore: subject.issuedBefore))
        } else {
            self.init(version: Int64(clamping: revocation.version), target: .token(jti: revocation.token.jti, expiresAt: revocation.token.expiresAt))
        }
    }
}
