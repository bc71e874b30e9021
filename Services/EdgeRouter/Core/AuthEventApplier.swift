import GatehouseAuthAPI
import GatehouseEvents
import Logging
import Metrics
import Synchronization

/// Keeps an edge's view of the issuer current: signing keys (JWKS) and revocations.
///
/// - Each time the event subscription is established, the first time included: the JWKS and the whole
///   revocation state are fetched, since events published before it were not received. The revocation
///   state is *current* only once a fetch that began after the latest subscription succeeded: before the
///   first subscription (an edge started while Redis is down), and after a failed fetch, it is not, and
///   ``resynchronizeIfNeeded()`` (called every few seconds) fetches it again.
/// - At start, before subscribing, keys and revocations are fetched too (``synchronize()``), so an edge
///   enforces what it can get even while Redis is down.
/// - A revocation event is applied at once; a gap in versions fetches the whole state.
/// - A key event, or a token naming an unknown `kid`, fetches the JWKS again; unknown `kid`s trigger at
///   most one fetch per `unknownKeyInterval`, so forged `kid`s cannot make the edge hammer the issuer.
package final class AuthEventApplier: Sendable {
    /// Which subscription the revocation state was last loaded for.
    private struct StateLoading {
        /// How many times the event subscription was established; 0 before the first.
        var subscriptions = 0
        /// The value of `subscriptions` when the last successful fetch of the state began; `nil` after a
        /// failed fetch.
        var loadedFor: Int?
        /// Whether the failure of the fetches since the last success was logged.
        var failureLogged = false

        var isCurrent: Bool { self.subscriptions > 0 && self.loadedFor == self.subscriptions }
    }

    private let revocations: RevocationList
    private let verifier: AccessTokenVerifier
    private let fetchKeys: @Sendable () async throws -> String
    private let fetchRevocations: @Sendable () async throws -> (version: Int64, revocations: [RevocationEvent])
    private let unknownKeyInterval: Duration
    private let lastUnknownKeyFetch = Mutex<ContinuousClock.Instant?>(nil)
    private let loading = Mutex(StateLoading())
    private let logger: Logger

    /// Creates an applier.
    /// - Parameters:
    ///   - revocations: The list to keep current.
    ///   - verifier: The verifier whose keys to keep current.
    ///   - fetchKeys: Fetches the JWKS document.
    ///   - fetchRevocations: Fetches the whole revocation state (`auth.RevocationState`, every page).
    ///   - unknownKeyInterval: The least time between two fetches caused by unknown `kid`s.
    ///   - logger: Receives fetch failures and gaps.
    package init(
        revocations: RevocationList, verifier: AccessTokenVerifier, fetchKeys: @escaping @Sendable () async throws -> String,
        fetchRevocations: @escaping @Sendable () async throws -> (version: Int64, revocations: [RevocationEvent]),
        unknownKeyInterval: Duration = .seconds(5), logger: Logger
    ) {
        self.revocations = revocations
        self.verifier = verifier
        self.fetchKeys = fetchKeys
        self.fetchRevocations = fetchRevocations
        self.unknownKeyInterval = unknownKeyInterval
        self.logger = logger
        EdgeMetrics.revocationStateCurrent.record(0)
    }

    /// Fetches keys and revocations (at start, before the subscription is established).
    /// - Throws: The first fetch failure.
    package func synchronize() async throws {
        try await self.refreshKeys()
        try await self.refreshRevocations()
    }

    /// Called each time the event subscription is established, the first time included: the revocation
    /// state is not current until it has been fetched again, which this does, with the JWKS.
    package func subscriptionEstablished() async {
        self.loading.withLock { $0.subscriptions += 1 }
        EdgeMetrics.revocationStateCurrent.record(0)
        try? await self.refreshKeys()
        try? await self.refreshRevocations()
    }

    /// Whether the whole revocation state has been fetched since the event subscription was last
    /// established, and no fetch failed since.
    package var isRevocationStateCurrent: Bool { self.loading.withLock { $0.isCurrent } }

    /// Fetches what the last attempt could not: the JWKS while no key is loaded, the revocation state
    /// while it is not loaded for the current subscription (or, before the first, at all).
    package func resynchronizeIfNeeded() async {
        if self.verifier.keyIDs.isEmpty { try? await self.refreshKeys() }
        if self.loading.withLock({ $0.loadedFor != $0.subscriptions }) { try? await self.refreshRevocations() }
    }

    /// Applies a message of the revocation channel; a gap or an unreadable message fetches the whole state.
    package func revocationMessage(_ text: String) async {
        guard let event = try? RevocationEvent(jsonText: text) else {
            self.logger.warning("unreadable revocation event; fetching the whole revocation state")
            try? await self.refreshRevocations()
            return
        }
        if case .gap(let expected, let received) = self.revocations.apply(event) {
            self.logger.notice("revocation events were missed; fetching the whole state", metadata: ["expected": "\(expected)", "received": "\(received)"])
            try? await self.refreshRevocations()
        }
    }

    /// Applies a message of the key channel: fetches the JWKS when it names keys this edge does not have.
    package func keyMessage(_ text: String) async {
        if let event = try? SigningKeyEvent(jsonText: text), Set(event.publishedKIDs) == self.verifier.keyIDs { return }
        try? await self.refreshKeys()
    }

    /// Called for a token with an unknown `kid`: fetches the JWKS unless one was fetched for that reason recently.
    /// - Returns: Whether keys were fetched (so verifying again may succeed).
    package func unknownKeySeen() async -> Bool {
        let now = ContinuousClock.now
        let due = self.lastUnknownKeyFetch.withLock { last -> Bool in
            if let last, now - last < self.unknownKeyInterval { return false }
            last = now
            return true
        }
        guard due else { return false }
        return (try? await self.refreshKeys()) != nil
    }

    /// Forgets revocations and remembered tokens that can no longer matter to the verifier.
    /// - Parameter now: Seconds since the Unix epoch.
    package func prune(now: Int64) {
        self.verifier.prune(now: now)
    }

    private func refreshKeys() async throws {
        do {
            let kids = try await self.verifier.replaceKeys(jwksJSON: try await self.fetchKeys())
            self.logger.info("signing keys loaded", metadata: ["keys": "\(kids.sorted().joined(separator: ","))"])
        } catch {
            self.logger.warning("cannot fetch the issuer's JWKS; keeping the keys loaded before", metadata: ["error": "\(error)"])
            throw error
        }
    }

    private func refreshRevocations() async throws {
        let subscriptions = self.loading.withLock { $0.subscriptions }
        let replacement = self.revocations.beginReplacement()
        let state: (version: Int64, revocations: [RevocationEvent])
        do {
            state = try await self.fetchRevocations()
        } catch {
            self.revocations.abandon(replacement)
            let logFailure = self.loading.withLock { sync -> Bool in
                // An older fetch failing does not undo a newer success.
                if let loaded = sync.loadedFor, loaded > subscriptions { return false }
                sync.loadedFor = nil
                defer { sync.failureLogged = true }
                return !sync.failureLogged
            }
            if logFailure {
                self.logger.warning(
                    "cannot fetch the revocation state; applying events as they come and retrying every few seconds",
                    metadata: ["error": "\(error)"]
                )
            }
            EdgeMetrics.revocationStateCurrent.record(self.isRevocationStateCurrent ? 1 : 0)
            throw error
        }
        let outcome = self.revocations.replace(replacement, version: state.version, revocations: state.revocations)
        let (loaded, current) = self.loading.withLock { sync -> (Bool, Bool) in
            if case .gap = outcome {
                // Events that arrived during the fetch skip a version: the state is fetched again shortly.
                sync.loadedFor = nil
                return (false, false)
            }
            guard (sync.loadedFor ?? -1) < subscriptions else { return (false, sync.isCurrent) }
            sync.loadedFor = subscriptions
            sync.failureLogged = false
            return (true, sync.isCurrent)
        }
        if case .gap(let expected, let received) = outcome {
            self.logger.notice(
                "revocation events were missed while fetching the state; fetching it again",
                metadata: ["expected": "\(expected)", "received": "\(received)"]
            )
        }
        if loaded {
            self.logger.info(
                "revocation state loaded",
                metadata: ["revocation.version": "\(state.version)", "revocations": "\(state.revocations.count)", "current": "\(current)"]
            )
        }
        EdgeMetrics.revocationStateCurrent.record(current ? 1 : 0)
    }
}
