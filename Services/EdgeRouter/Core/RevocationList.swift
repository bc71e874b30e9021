import GatehouseAuthAPI
import Synchronization

/// The revocations an edge router enforces: revoked token ids until their expiry, and per subject the time
/// before which its tokens are invalid. Fed by the issuer's revocation events and, after a gap in their
/// versions or a lost subscription, replaced by the issuer's whole state (`auth.RevocationState`).
public final class RevocationList: Sendable {
    /// What applying an event did.
    public enum Applied: Sendable, Equatable {
        /// The next version: applied.
        case applied
        /// Already known (a repeat after a publisher crash): nothing changed.
        case duplicate
        /// Applied, but versions between were missed: fetch the whole state.
        case gap(expected: Int64, received: Int64)
    }

    private struct State {
        var version: Int64 = 0
        var tokens: [String: Int64] = [:]
        var subjects: [String: Int64] = [:]
    }

    private let state = Mutex(State())

    /// Creates an empty list at version 0 (the issuer's first revocation is version 1).
    public init() {}

    /// The newest version applied.
    public var version: Int64 {
        self.state.withLock { $0.version }
    }

    /// Applies one event.
    public func apply(_ event: RevocationEvent) -> Applied {
        self.state.withLock { state in
            guard event.version > state.version else { return .duplicate }
            let expected = state.version + 1
            Self.add(event.target, to: &state)
            state.version = event.version
            return event.version == expected ? .applied : .gap(expected: expected, received: event.version)
        }
    }

    /// Replaces everything with the issuer's current state.
    public func replace(version: Int64, revocations: [RevocationEvent]) {
        var fresh = State()
        fresh.version = version
        for revocation in revocations { Self.add(revocation.target, to: &fresh) }
        self.state.withLock { $0 = fresh }
    }

    /// Whether a token is revoked: by its `jti`, or because its subject's tokens issued before some time are.
    /// - Parameters:
    ///   - jti: The token's id.
    ///   - subject: Its `sub`.
    ///   - issuedAt: Its `iat`, seconds since the Unix epoch.
    public func isRevoked(jti: String, subject: String, issuedAt: Int64) -> Bool {
        self.state.withLock { state in
            if state.tokens[jti] != nil { return true }
            if let before = state.subjects[subject], issuedAt < before { return true }
            return false
        }
    }

    /// Forgets token revocations past their expiry and subject revocations older than any live token.
    /// - Parameters:
    ///   - now: Seconds since the Unix epoch.
    ///   - longestLifetime: The longest access-token lifetime, in seconds.
    public func prune(now: Int64, longestLifetime: Int64) {
        self.state.withLock { state in
            state.tokens = state.tokens.filter { $0.value >= now }
            state.subjects = state.subjects.filter { $0.value + longestLifetime >= now }
        }
    }

    /// How many entries are held.
    public var count: Int {
        self.state.withLock { $0.tokens.count + $0.subjects.count }
    }

    private static func add(_ target: RevocationEvent.Target, to state: inout State) {
        switch target {
        case .token(let jti, let expiresAt):
            state.tokens[jti] = max(expiresAt, state.tokens[jti] ?? .min)
        case .subject(let subject, let issuedBefore):
            state.subjects[subject] = max(issuedBefore, state.subjects[subject] ?? .min)
        }
    }
}
