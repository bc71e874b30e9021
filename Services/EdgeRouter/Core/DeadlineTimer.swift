import NIOCore

/// The one timer of a connection's deadline handler (``RequestHeadDeadlineHandler``,
/// ``RequestDeadlineHandler``), used on the channel's event loop only.
final class DeadlineTimer {
    private var scheduled: Scheduled<Void>?

    /// Sets the timer to call `fire` at `instant`, on `eventLoop`.
    func set(at instant: ContinuousClock.Instant, on eventLoop: any EventLoop, _ fire: @escaping () -> Void) {
        let bound = NIOLoopBound((self, fire), eventLoop: eventLoop)
        self.scheduled = eventLoop.scheduleTask(in: TimeAmount(instant - .now)) {
            let (timer, fire) = bound.value
            timer.scheduled = nil
            fire()
        }
    }

    /// Cancels the timer, if set.
    func cancel() {
        self.scheduled?.cancel()
        self.scheduled = nil
    }
}
