import GatehouseAuthAPI
import GatehouseEvents
import Logging

/// The issuer's revocations not yet published: rows of its database, flagged once Redis accepted their event
/// (docs/protocol.md, "Revocation events": one message per revocation, in version order).
///
/// Drained by the ``OutboxDrainer`` that ``AuthEventPublisher`` runs. Metrics:
/// `gatehouse_auth_events_published_total` and `gatehouse_auth_event_publish_failures_total` (shared with
/// the key events), `gatehouse_auth_revocations_unpublished`.
struct RevocationOutbox: OutboxSource {
    /// The issuer's metric names and log lines (docs/operations.md).
    static let reporting = OutboxReporting(
        publishedLabel: AuthEventPublisher.publishedLabel,
        failuresLabel: AuthEventPublisher.failuresLabel,
        depthLabel: "gatehouse_auth_revocations_unpublished",
        oldestAgeLabel: nil,
        failing: "cannot publish auth events; revocations wait in the database",
        recovered: "publishing auth events again"
    )

    private let store: AuthStore

    /// One revocation per message.
    var eventsPerMessage: Int { 1 }

    /// Creates the source.
    /// - Parameter store: The issuer's database.
    init(store: AuthStore) {
        self.store = store
    }

    /// Unpublished revocations after `version`, in version order.
    /// - Parameters:
    ///   - version: The newest version published.
    ///   - limit: The most to return.
    /// - Throws: ``AuthStoreError`` when the database cannot be read.
    func unpublished(after version: Int64, limit: Int) async throws -> [RevocationEvent] {
        try await self.store.unpublishedRevocations(after: version, limit: limit)
    }

    /// The revocation event's JSON text.
    /// - Parameter events: One revocation.
    func message(for events: ArraySlice<RevocationEvent>) -> String {
        events.first?.jsonText() ?? ""
    }

    /// Flags revocations through `version` as published.
    /// - Parameter version: The newest version Redis accepted.
    /// - Throws: ``AuthStoreError`` when the database cannot be written.
    func markPublished(through version: Int64) async throws {
        try await self.store.markRevocationsPublished(through: version)
    }

    /// How many revocations after `version` wait.
    /// - Parameter version: The newest version published.
    /// - Throws: ``AuthStoreError`` when the database cannot be read.
    func backlog(after version: Int64) async throws -> OutboxBacklog {
        OutboxBacklog(count: try await self.store.unpublishedRevocationCount(after: version))
    }
}
