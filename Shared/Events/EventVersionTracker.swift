/// Follows the versions of one publisher's events as a subscriber receives them, and says for each event
/// (or message of consecutive events) whether it is the next one, a repeat, or a jump over missed ones.
///
/// Publishers deliver at least once and Redis pub/sub at most once, so a subscriber sees repeats (a
/// publisher that crashed between `PUBLISH` and marking the event) and gaps (a dropped subscription). A
/// tracker without a version (``version`` is `nil`) takes whatever comes next as its start: a subscriber
/// that has just dropped everything derived from the events has nothing a gap could make wrong.
public struct EventVersionTracker: Sendable, Equatable {
    /// What recording versions found.
    public enum Outcome: Sendable, Equatable {
        /// The versions follow the last one recorded (or are the first): apply them.
        case applied
        /// Every version was recorded before: nothing to apply.
        case duplicate
        /// Versions between the last one recorded and these were missed; the tracker moved past them all the
        /// same, and the subscriber must recover the missed state (refetch it, or drop what it derived).
        case gap(expected: Int64, received: Int64)
    }

    /// The newest version recorded, `nil` before the first (or after ``forget()``).
    public private(set) var version: Int64?

    /// Creates a tracker.
    /// - Parameter version: The version already applied (0 when the publisher's first event is known to be
    ///   version 1), or `nil` to take the first one recorded as the start.
    public init(version: Int64? = nil) {
        self.version = version
    }

    /// Whether an event of this version was not recorded yet.
    /// - Parameter version: The event's version.
    public func isNew(_ version: Int64) -> Bool {
        guard let newest = self.version else { return true }
        return version > newest
    }

    /// Records one event's version.
    /// - Parameter version: The event's version.
    /// - Returns: Whether the event is the next one, a repeat, or follows a gap.
    public mutating func record(_ version: Int64) -> Outcome {
        self.record(first: version, last: version)
    }

    /// Records the versions of one message's events, which follow one another without a gap.
    /// - Parameters:
    ///   - first: The version of the first event ``isNew(_:)`` called new (of the first event, if none is).
    ///   - last: The version of the message's last event.
    /// - Returns: `.duplicate` when `last` is not newer than the newest recorded; else `.applied` when
    ///   `first` follows the newest recorded (or nothing was recorded), and `.gap` when it does not. Unless
    ///   it was a duplicate, `last` is the newest recorded afterwards.
    public mutating func record(first: Int64, last: Int64) -> Outcome {
        guard let newest = self.version else {
            self.version = last
            return .applied
        }
        guard last > newest else { return .duplicate }
        self.version = last
        let expected = newest + 1
        return first == expected ? .applied : .gap(expected: expected, received: first)
    }

    /// Forgets the newest version, so that the next one recorded is taken as the start.
    public mutating func forget() {
        self.version = nil
    }
}
