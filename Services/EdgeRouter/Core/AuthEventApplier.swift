import GatehouseAuthAPI
import Logging
import Metrics
import Synchronization

/// Keeps an edge's view of the issuer current: signing keys (JWKS) and revocations.
///
/// - At start and after a lost subscription: the JWKS and the whole revocation state are fetched. While
///   either fetch has failed, ``resynchronizeIfNeeded()`` (called every few seconds) tries again, so an
///   edge that started while the issuer was down enforces revocations made before it started once the
///   issuer answers.
/// - A revocation event is applied at once; a gap in versions fetches the whole state.
/// - A key event, or a token naming an unknown `kid`, fetches the JWKS again; unknown `kid`s trigger at
///   most one fetch per `unknownKeyInterval`, so forged `kid`s cannot make the edge hammer the issuer.
public final class AuthEventApplier: Sendable {
    private let revocations: RevocationList
    private let verifier: AccessTokenVerifier
    private let fetchKeys: @Sendable () async throws -> String
    private let fetchRevocations: @Sendable () async throws -> (version: Int64, revocations: [RevocationEvent])
    private let unknownKeyInterval: Duration
    private let lastUnknownKeyFetch = Mutex<ContinuousClock.Instant?>(nil)
    private let revocationStateFetched = Atomic<Bool>(false)
    /// Until the first failure: so that the first failure is logged even before any success.
    private let neverFailed = Atomic<Bool>(true)
    private let logger: Logger

    /// Creates an applier.
    /// - Parameters:
    ///   - revocations: The list to keep current.
    ///   - verifier: The verifier whose keys to keep current.
    ///   - fetchKeys: Fetches the JWKS document.
    ///   - fetchRevocations: Fetches the whole revocation state (`auth.RevocationState`).
    ///   - unknownKeyInterval: The least time between two fetches caused by unknown `kid`s.
    ///   - logger: Receives fetch failures and gaps.
    public init(
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
    }

    /// Fetches keys and revocations (at start, and after the subscription was re-established).
    /// - Throws: The first fetch failure.
    public func synchronize() async throws {
        try await self.refreshKeys()
        try await self.refreshRevocations()
    }

    /// Whether the whole revocation state has been fetched since the start, or the last failed fetch.
    public var isRevocationStateCurrent: Bool { self.revocationStateFetched.load(ordering: .acquiring) }

    /// Fetches what the last attempt could not: the JWKS while no key is loaded, the revocation state
    /// while it is not current.
    public func resynchronizeIfNeeded() async {
        if self.verifier.keyIDs.isEmpty { try? await self.refreshKeys() }
        if !self.isRevocationStateCurrent { try? await self.refreshRevocations() }
    }

    /// Applies a message of the revocation channel; a gap or an unreadable message fetches the whole state.
    public func revocationMessage(_ text: String) async {
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
    public func keyMessage(_ text: String) async {
        if let event = try? SigningKeyEvent(jsonText: text), Set(event.publishedKIDs) == self.verifier.keyIDs { return }
        try? await self.refreshKeys()
    }

    /// Called for a token with an unknown `kid`: fetches the JWKS unless one was fetched for that reason recently.
    /// - Returns: Whether keys were fetched (so verifying again may succeed).
    public func unknownKeySeen() async -> Bool {
        let now = ContinuousClock.now
        let due = self.lastUnknownKeyFetch.withLock { last -> Bool in
            if let last, now - last < self.unknownKeyInterval { return false }
            last = now
            return true
        }
        guard due else { return false }
        return (try? await self.refreshKeys()) != nil
    }

    /// Forgets revocations and remembered tokens that can no longer matter.
    /// - Parameter now: Seconds since the Unix epoch.
    public func prune(now: Int64) {
        self.revocations.prune(now: now, longestLifetime: 900 + 60)
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
        do {
            let state = try await self.fetchRevocations()
            self.revocations.replace(version: state.version, revocations: state.revocations)
            if !self.revocationStateFetched.exchange(true, ordering: .acquiringAndReleasing) {
                self.logger.info("revocation state loaded", metadata: ["revocation.version": "\(state.version)", "revocations": "\(state.revocations.count)"])
            }
            EdgeMetrics.revocationStateCurrent.record(1)
        } catch {
            if self.revocationStateFetched.exchange(false, ordering: .acquiringAndReleasing) || self.neverFailed.exchange(false, ordering: .acquiringAndReleasing) {
                self.logger.warning(
                    "cannot fetch the revocation state; applying events as they come and retrying every few seconds",
                    metadata: ["error": "\(error)"]
                )
            }
            EdgeMetrics.revocationStateCurrent.record(0)
            throw error
        }
    }
}
