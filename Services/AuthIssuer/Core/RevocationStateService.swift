import GatehouseAuthAPI
import GatehouseRPC
import SwiftProtobuf

/// Serves `auth.RevocationState`: the revocations still in force, page by page, for an edge router that
/// (re)subscribed to revocation events or missed some.
///
/// A page holds the revocations above the request's `after_version`, in version order, up to the bytes the
/// caller accepts (`max_bytes`), the issuer's own frame limit and ``maximumPageEntries``; it always holds at
/// least one when there is one. `next_after_version` names where the next page starts, 0 after the last.
/// A request without `max_bytes` (an edge from before paging) gets every revocation in one answer.
package struct RevocationStateService: Sendable {
    /// The smallest `max_bytes` a paged request may give: a page of one revocation (a `jti` of
    /// ``AuthStore/maximumJTIBytes``) always fits.
    package static let minimumPageBytes = 512
    /// The most revocations one page holds, so that reading a page keeps the database busy only briefly.
    package static let maximumPageEntries = 10_000
    /// The bytes a frame needs besides the answer: its length prefix and the envelope (id, payload tag and length).
    static let envelopeBytes = 32
    /// The fewest bytes one revocation takes in a page: its tag and length (6 at most, counted as 6) and the
    /// entry itself, at least a version (2) and an empty target (2). A page never needs more rows than its
    /// budget holds of these.
    static let smallestEntryBytes = 10

    private let store: AuthStore
    private let maximumFrameBytes: Int

    /// Creates the service over the issuer's database.
    /// - Parameters:
    ///   - store: The issuer's database.
    ///   - maximumFrameBytes: The issuer's own frame limit (`rpc.max_frame_bytes`): no page is larger.
    package init(store: AuthStore, maximumFrameBytes: Int) {
        self.store = store
        self.maximumFrameBytes = maximumFrameBytes
    }

    /// The handlers to give the RPC server.
    package var rpcHandlers: RPCHandlerRegistry {
        var handlers = RPCHandlerRegistry()
        handlers.register(AuthMethods.revocationState) { request, _ in try await self.state(request) }
        return handlers
    }

    /// One page of the state (or all of it, for a request without `max_bytes`) as the RPC answer.
    /// - Throws: ``RPCError`` `invalid_argument` for a `max_bytes` below ``minimumPageBytes``, `unavailable`
    ///   when the database fails.
    func state(_ request: Gatehouse_Auth_RevocationStateRequest) async throws -> Gatehouse_Auth_RevocationStateResponse {
        let after = Int64(clamping: request.afterVersion)
        guard request.maxBytes != 0 else {
            let (version, events) = try await self.read(after: after, limit: .max)
            var response = Gatehouse_Auth_RevocationStateResponse()
            response.version = UInt64(version)
            response.revocations = events.map(Self.revocation)
            return response
        }
        guard Int(request.maxBytes) >= Self.minimumPageBytes else {
            throw RPCError(
                .invalidArgument,
                "max_bytes \(request.maxBytes) is too small: give 0 (everything in one answer) or at least \(Self.minimumPageBytes)"
            )
        }
        let budget = min(Int(request.maxBytes), self.maximumFrameBytes - Self.envelopeBytes)
        // No more rows than the budget can hold: a small page reads few rows, not ``maximumPageEntries``.
        let limit = min(Self.maximumPageEntries, budget / Self.smallestEntryBytes + 1)
        let (version, events) = try await self.read(after: after, limit: limit)
        var response = Gatehouse_Auth_RevocationStateResponse()
        response.version = UInt64(version)
        // `version` and `next_after_version`: a tag and at most ten bytes of varint each.
        var used = 22
        for event in events {
            let revocation = Self.revocation(event)
            // A tag, the length (at most five bytes of varint) and the entry.
            let cost = 6 + (try revocation.serializedBytes() as [UInt8]).count
            if used + cost > budget, let last = response.revocations.last {
                response.nextAfterVersion = last.version
                return response
            }
            used += cost
            response.revocations.append(revocation)
        }
        if events.count == limit, let last = events.last {
            response.nextAfterVersion = UInt64(last.version)
        }
        return response
    }

    private func read(after: Int64, limit: Int) async throws -> (Int64, [RevocationEvent]) {
        do {
            return try await self.store.revocationState(after: after, limit: limit)
        } catch {
            throw RPCError(.unavailable, "the auth database is unavailable: \(error)")
        }
    }

    private static func revocation(_ event: RevocationEvent) -> Gatehouse_Auth_Revocation {
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
}
