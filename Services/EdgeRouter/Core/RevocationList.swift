import GatehouseAuthAPI
import GatehouseEvents
import Synchronization

/// The revocations an edge router enforces: revoked token ids until their expiry (plus the leeway), and per
/// subject the time before which its tokens are invalid. Fed by the issuer's revocation events and, after
/// a (re)subscription or a gap in their versions, replaced by the issuer's whole state
/// (`auth.RevocationState`).
///
/// Fetching the state takes a while (several pages for a large one) while events keep arriving. So a
/// replacement is bracketed: ``beginReplacement()`` before the fetch, ``replace(_:version:revocations:)``
/// after it. Events applied in between are applied again over the fetched state when their version is
/// above its version, so none is lost; events applied before the fetch began are not (the state holds
/// them, or they were forged: a forged event is undone by the next replacement).
package final class RevocationList: Sendable {
    /// A replacement in progress, from ``beginReplacement()`` to ``replace(_:version:revocations:)`` or
    /// ``abandon(_:)``.
    package struct Replacement: Sendable {
        fileprivate let id: Int
    }

    private struct Entries {
        /// Versions start at 1, so an empty list is at version 0.
        var versions = EventVersionTracker(version: 0)
        var tokens: [String: Int64] = [:]
        var subjects: [String: Int64] = [:]
    }

    private struct State {
        var entries = Entries()
        /// Events applied while a replacement is in progress, from the oldest one's start.
        var recorded: [RevocationEvent] = []
        /// How many recorded events were dropped from the front of `recorded`.
        var recordedOffset = 0
        /// Each replacement in progress, with the position in the recorded events where it began.
        var pending: [Int: Int] = [:]
        var nextReplacement = 0
        /// The newest replacement applied so far (ids grow in the order replacements begin): one that
        /// began earlier and finishes later is stale.
        var newestApplied = -1

        var recordedEnd: Int { self.recordedOffset + self.recorded.count }

        /// Forgets recorded events no replacement in progress needs.
        mutating func trimRecorded() {
            guard let oldest = self.pending.values.min() else {
                self.recordedOffset += self.recorded.count
                self.recorded.removeAll()
                return
            }
            self.recorded.removeFirst(oldest - self.recordedOffset)
            self.recordedOffset = oldest
        }
    }

    private let state = Mutex(State())

    /// Creates an empty list at version 0 (the issuer's first revocation is version 1).
    package init() {}

    /// The newest version applied.
    package var version: Int64 {
        self.state.withLock { $0.entries.versions.version ?? 0 }
    }

    /// Applies one event.
    /// - Returns: `.applied` for the next version, `.duplicate` for a repeat (a publisher crash), `.gap` when
    ///   versions between were missed (it is applied all the same: fetch the whole state).
    package func apply(_ event: RevocationEvent) -> EventVersionTracker.Outcome {
        self.state.withLock { state in
            if !state.pending.isEmpty { state.recorded.append(event) }
            return Self.apply(event, to: &state.entries)
        }
    }

    /// Starts a replacement: call it before fetching the issuer's state.
    package func beginReplacement() -> Replacement {
        self.state.withLock { state in
            let id = state.nextReplacement
            state.nextReplacement += 1
            state.pending[id] = state.recordedEnd
            return Replacement(id: id)
        }
    }

    /// Replaces everything with the issuer's state, then applies again the events that arrived since the
    /// replacement began and are newer than the state. A replacement that began before another one already
    /// applied changes nothing (the other read a newer state).
    /// - Parameters:
    ///   - replacement: What ``beginReplacement()`` returned before the fetch.
    ///   - version: The state's version (that of its last page).
    ///   - revocations: Every revocation of the state.
    /// - Returns: `.applied`; `.gap` when the events applied again skip a version (fetch again);
    ///   `.duplicate` when the replacement was stale and changed nothing.
    @discardableResult
    package func replace(_ replacement: Replacement, version: Int64, revocations: [RevocationEvent]) -> EventVersionTracker.Outcome {
        var fresh = Entries()
        fresh.versions = EventVersionTracker(version: version)
        for revocation in revocations { Self.add(revocation.target, to: &fresh) }
        return self.state.withLock { state in
            guard let start = state.pending.removeValue(forKey: replacement.id) else { return .duplicate }
            defer { state.trimRecorded() }
            guard replacement.id > state.newestApplied else { return .duplicate }
            var outcome = EventVersionTracker.Outcome.applied
            for event in state.recorded[(start - state.recordedOffset)...] {
                if case .gap(let expected, let received) = Self.apply(event, to: &fresh), outcome == .applied {
                    outcome = .gap(expected: expected, received: received)
                }
            }
            state.entries = fresh
            state.newestApplied = replacement.id
            return outcome
        }
    }

    /// Ends a replacement whose fetch failed; the list stays as it is.
    package func abandon(_ replacement: Replacement) {
        self.state.withLock { state in
            state.pending.removeValue(forKey: replacement.id)
            state.trimRecorded()
        }
    }

    /// Whether a token is revoked: by its `jti`, or because its subject's tokens issued before some time are.
    /// - Parameters:
    ///   - jti: The token's id.
    ///   - subject: Its `sub`.
    ///   - issuedAt: Its `iat`, seconds since the Unix epoch.
    package func isRevoked(jti: String, subject: String, issuedAt: Int64) -> Bool {
        self.state.withLock { state in
            if state.entries.tokens[jti] != nil { return true }
            if let before = state.entries.subjects[subject], issuedAt < before { return true }
            return false
        }
    }

    /// Forgets what no token a verifier with this leeway accepts can need: token revocations once `exp` +
    /// leeway has passed, subject revocations once the cut-off + the longest access-token lifetime + leeway
    /// has (``RevocationRetention``).
    /// - Parameters:
    ///   - now: Seconds since the Unix epoch.
    ///   - leeway: The verifier's leeway on `exp`, whole seconds.
    package func prune(now: Int64, leeway: Int64) {
        self.state.withLock { state in
            state.entries.tokens = state.entries.tokens.filter { RevocationRetention.keepsToken(expiresAt: $0.value, now: now, leeway: leeway) }
            state.entries.subjects = state.entries.subjects.filter {
                RevocationRetention.keepsSubject(issuedBefore: $0.value, now: now, leeway: leeway)
            }
        }
    }

    /// How many entries are held.
    package var count: Int {
        self.state.withLock { $0.entries.tokens.count + $0.entries.subjects.count }
    }

    private static func apply(_ event: RevocationEvent, to entries: inout Entries) -> EventVersionTracker.Outcome {
        let outcome = entries.versions.record(event.version)
        if outcome != .duplicate { Self.add(event.target, to: &entries) }
        return outcome
    }

    private static func add(_ target: RevocationEvent.Target, to entries: inout Entries) {
        switch target {
        case .token(let jti, let expiresAt):
            entries.tokens[jti] = max(expiresAt, entries.tokens[jti] ?? .min)
        case .subject(let subject, let issuedBefore):
            entries.subjects[subject] = max(issuedBefore, entries.subjects[subject] ?? .min)
        }
    }
}
