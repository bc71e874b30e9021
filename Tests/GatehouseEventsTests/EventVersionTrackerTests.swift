import GatehouseEvents
import Testing

/// The one rule every subscriber applies to its publisher's versions: the next one is applied, a repeat is
/// ignored, a jump is a gap that the tracker moves past.
@Suite struct EventVersionTrackerTests {
    @Test func theNextVersionIsAppliedARepeatIsADuplicateAndAJumpIsAGap() {
        var tracker = EventVersionTracker(version: 0)
        #expect(tracker.record(1) == .applied)
        #expect(tracker.record(2) == .applied)
        #expect(tracker.record(2) == .duplicate, "a publisher that crashed between PUBLISH and marking sends it again")
        #expect(tracker.record(1) == .duplicate)
        #expect(tracker.version == 2)
        #expect(tracker.record(5) == .gap(expected: 3, received: 5))
        #expect(tracker.version == 5, "the tracker moves past the gap; the subscriber recovers what it missed")
        #expect(tracker.record(3) == .duplicate, "a late event from inside the gap is older than the newest")
        #expect(tracker.record(6) == .applied)
    }

    @Test func withoutAVersionTheFirstOneRecordedIsTheStart() {
        var tracker = EventVersionTracker()
        #expect(tracker.version == nil)
        #expect(tracker.isNew(1) && tracker.isNew(-7))
        #expect(tracker.record(41) == .applied, "nothing recorded before, so nothing can be missing")
        #expect(tracker.record(42) == .applied)
        tracker.forget()
        #expect(tracker.version == nil)
        #expect(tracker.record(7) == .applied, "after forgetting, an older version is a new start too")
        #expect(tracker.version == 7)
    }

    @Test func aMessageOfSeveralEventsIsJudgedByItsFirstNewAndItsLastVersion() {
        var tracker = EventVersionTracker(version: 10)
        #expect(!tracker.isNew(10) && tracker.isNew(11))
        #expect(tracker.record(first: 11, last: 13) == .applied)
        #expect(tracker.record(first: 12, last: 13) == .duplicate, "every version was seen")
        // A repeat that overlaps new events: the caller passes the first new one.
        #expect(tracker.record(first: 14, last: 15) == .applied)
        #expect(tracker.record(first: 18, last: 20) == .gap(expected: 16, received: 18))
        #expect(tracker.version == 20)
    }

    @Test func versionsAtTheEdgesOfTheRangeDoNotOverflow() {
        var tracker = EventVersionTracker(version: .max - 1)
        #expect(tracker.record(.max) == .applied)
        #expect(tracker.record(.max) == .duplicate, "nothing is newer than the largest version")
        #expect(!tracker.isNew(.max))
        var fresh = EventVersionTracker(version: 0)
        #expect(fresh.record(0) == .duplicate, "versions start at 1")
        #expect(fresh.record(-1) == .duplicate)
        #expect(fresh.version == 0)
    }

    @Test func aMessageWhoseVersionsDoNotFollowEachOtherIsAGap() {
        // Forged or corrupted: the first new version is not the next one, whatever the last is.
        var tracker = EventVersionTracker(version: 7)
        #expect(tracker.record(first: 9, last: 8) == .gap(expected: 8, received: 9))
        #expect(tracker.version == 8)
    }
}
