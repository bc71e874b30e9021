/// Wakes a background loop (an event publisher) when there is work, and also every poll interval, so work
/// that arrived without a signal (written by another process, or left by a crash) is found too.
///
/// ``signal()`` is cheap, never waits, and coalesces: however often it is called while the loop works, the
/// loop wakes once more. Iterate ``wakeUps`` in one task only.
public struct WakeUpSignal: Sendable {
    /// One element per wake-up; at most one is pending at a time.
    public let wakeUps: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    /// Creates a signal with nothing pending.
    public init() {
        (self.wakeUps, self.continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Wakes the loop (once, however often it is called before the loop takes it).
    public func signal() {
        self.continuation.yield()
    }

    /// Signals every `interval` until the calling task is cancelled; run it in a child task beside the loop.
    /// - Parameter interval: The poll interval.
    public func poll(every interval: Duration) async {
        while (try? await Task.sleep(for: interval)) != nil {
            self.continuation.yield()
        }
    }
}
