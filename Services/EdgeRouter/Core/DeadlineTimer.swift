import NIOCore

/// The one timer of a connection's deadline handler (``RequestHeadDeadlineHandler``,
/// ``EdgeConnectionHandler``), which carries out what its state machine asks; used on the channel's event
/// loop only.
final class DeadlineTimer {
    private var scheduled: Scheduled<Void>?

    /// Carries out `action`: sets the timer, and when it fires carries out what `timerFired` then says; or
    /// calls `onClose` (metrics, the log line) and closes the connection.
    func perform(
        _ action: DeadlineAction, context: ChannelHandlerContext, timerFired: @escaping () -> DeadlineAction, onClose: @escaping () -> Void
    ) {
        switch action {
        case .none:
            return
        case .schedule(let instant):
            let bound = NIOLoopBound((self, context, timerFired, onClose), eventLoop: context.eventLoop)
            self.scheduled = context.eventLoop.scheduleTask(in: TimeAmount(instant - .now)) {
                let (timer, context, timerFired, onClose) = bound.value
                timer.scheduled = nil
                timer.perform(timerFired(), context: context, timerFired: timerFired, onClose: onClose)
            }
        case .close:
            onClose()
            context.close(promise: nil)
        }
    }

    /// Cancels the timer, if set.
    func cancel() {
        self.scheduled?.cancel()
        self.scheduled = nil
    }
}
