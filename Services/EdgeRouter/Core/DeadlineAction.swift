/// What a connection's deadline state machine (``RequestHeadDeadline``, ``RequestDeadline``) asks its NIO
/// shell to do next.
enum DeadlineAction: Equatable {
    /// Set the connection's timer to fire at this instant.
    case schedule(ContinuousClock.Instant)
    /// What the deadline bounds is overdue: close the connection.
    case close
    /// Nothing.
    case none
}
