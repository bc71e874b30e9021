import UnixSignals

/// The process signals a service answers: in its executable `SIGTERM`/`SIGINT` shut it down gracefully and
/// `SIGHUP` reloads its files; started inside a test, it leaves the test process's signals alone.
public struct ServiceSignals: Sendable {
    /// `SIGTERM`/`SIGINT` for graceful shutdown and `SIGHUP` for reloads, as in a service's executable.
    public static let trapped = ServiceSignals(isTrapped: true)
    /// No signal handling: shutdown through `ServiceGroup.triggerGracefulShutdown()`, reloads when a file changes.
    public static let untrapped = ServiceSignals(isTrapped: false)

    private let isTrapped: Bool

    /// The signals the service group shuts down gracefully on.
    public var gracefulShutdown: [UnixSignal] {
        self.isTrapped ? [.sigterm, .sigint] : []
    }

    /// A new sequence of `SIGHUP`s for one ``FileReloader`` (each sequence hands a signal to one reader), or
    /// `nil` when untrapped. Trapped at once, before anything listens, so a `SIGHUP` can never kill the
    /// process or go unnoticed.
    public func hangups() async -> UnixSignalsSequence? {
        self.isTrapped ? await UnixSignalsSequence(trapping: .sighup) : nil
    }
}
