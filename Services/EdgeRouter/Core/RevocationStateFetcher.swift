import GatehouseAuthAPI

/// Fetches the issuer's whole revocation state with `auth.RevocationState`, page by page
/// (docs/protocol.md, "Auth issuer").
///
/// Each page asks for the revocations above the last version received, at most as many bytes as this
/// edge's frame limit allows, until a page says it is the last. The pages together hold every revocation
/// the issuer stores at the time of the last page (one replaced meanwhile appears again under its new,
/// higher version), so the state's version is the last page's. An issuer from before paging ignores the
/// request's fields and answers everything at once, without `next_after_version`: that is the last page.
package struct RevocationStateFetcher: Sendable {
    /// Why the state could not be fetched, besides the issuer's call failing.
    package struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        package let description: String
    }

    private let client: AuthClient
    private let maximumAnswerBytes: Int

    /// Creates a fetcher.
    /// - Parameters:
    ///   - client: The issuer's client.
    ///   - maximumFrameBytes: The largest frame the client accepts; each page is asked to fit in one.
    package init(client: AuthClient, maximumFrameBytes: Int) {
        self.client = client
        // The frame also carries its length prefix and the envelope around the answer.
        self.maximumAnswerBytes = max(512, maximumFrameBytes - 32)
    }

    /// Fetches every page.
    /// - Returns: The version of the last page and every revocation of all pages, in version order.
    /// - Throws: `AuthClientError`, or ``Failure`` when the issuer's pages do not advance.
    package func fetch() async throws -> (version: Int64, revocations: [RevocationEvent]) {
        var afterVersion: UInt64 = 0
        var revocations: [RevocationEvent] = []
        while true {
            let page = try await self.client.revocationState(after: afterVersion, maximumBytes: self.maximumAnswerBytes)
            revocations += page.revocations
            guard let next = page.nextAfterVersion else { return (page.version, revocations) }
            guard next > afterVersion else {
                throw Failure(description: "the issuer's revocation state does not advance: page after version \(afterVersion) ends at \(next)")
            }
            afterVersion = next
        }
    }
}
