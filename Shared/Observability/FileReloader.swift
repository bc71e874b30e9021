import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Keeps a service in step with a file of its own (the limiter's policies, the edge router's routes):
/// reloads on `SIGHUP` and when the file's content changes, without dropping a request.
///
/// A file that does not load is rejected with every problem logged, and what is in force stays; the same
/// bad content is reported once, not on every check. Exported metrics, named by ``Naming``: a counter of
/// reloads by `result` (`applied`, `rejected`) and a gauge of the entries in force.
public final class FileReloader: Service, Sendable {
    /// What a reload did.
    public enum Outcome: Sendable, Equatable {
        /// The file was read and its entries (this many) are in force.
        case applied(count: Int)
        /// The file is unchanged since the last attempt; nothing was done.
        case unchanged
        /// The file was rejected; what was in force stays. The text lists every problem.
        case rejected(String)
    }

    /// The words of the log lines and the metric names, per kind of file, all made from the service's and
    /// the entries' names by one convention (``init(service:entry:entries:)``).
    public struct Naming: Sendable {
        /// The message of an applied reload, e.g. `policies reloaded`.
        public var applied: String
        /// The message of a rejected file, e.g. `policy file rejected; the previous policies stay in force`.
        public var rejected: String
        /// The metadata key of the file's path, e.g. `policies.file`.
        public var fileKey: String
        /// The metadata key of the count in force, e.g. `policies.count`.
        public var countKey: String
        /// The reload counter, e.g. `gatehouse_limiter_policy_reloads_total`.
        public var reloadsMetric: String
        /// The gauge of entries in force, e.g. `gatehouse_limiter_policies`.
        public var countMetric: String

        /// Names a file of `entries`: for the limiter's policy file, `Naming(service: "limiter", entry: "policy",
        /// entries: "policies")` logs `policies reloaded` and `policy file rejected; the previous policies stay
        /// in force` with `policies.file` and `policies.count`, and counts in
        /// `gatehouse_limiter_policy_reloads_total` and `gatehouse_limiter_policies`.
        /// - Parameters:
        ///   - service: The service's word in metric names, e.g. `limiter`, `edge`.
        ///   - entry: What the file holds, singular, e.g. `policy`, `route`.
        ///   - entries: The same, plural, e.g. `policies`, `routes`.
        public init(service: String, entry: String, entries: String) {
            self.applied = "\(entries) reloaded"
            self.rejected = "\(entry) file rejected; the previous \(entries) stay in force"
            self.fileKey = "\(entries).file"
            self.countKey = "\(entries).count"
            self.reloadsMetric = "gatehouse_\(service)_\(entry)_reloads_total"
            self.countMetric = "gatehouse_\(service)_\(entries)"
        }
    }

    private let path: String
    private let naming: Naming
    private let watchInterval: Duration?
    private let hangups: UnixSignalsSequence?
    private let logger: Logger
    private let apply: @Sendable (String) throws -> Int
    /// The bytes of the file last attempted (applied or rejected).
    private let lastContent: Mutex<Data?>
    private let appliedCounter: Counter
    private let rejectedCounter: Counter
    private let inForce: Gauge

    /// Creates a reloader for a file already loaded once at start.
    /// - Parameters:
    ///   - path: The file.
    ///   - naming: Log messages and metric names.
    ///   - inForce: How many entries the start-up load put in force.
    ///   - watchInterval: How often the file's content is compared with the last one read; `nil`: never.
    ///   - hangups: `SIGHUP`s, trapped before the service starts so none is lost (and none kills the process);
    ///     `nil` in tests that must not touch signal handling.
    ///   - logger: Receives one line per reload or rejection.
    ///   - apply: Loads the file at the path and puts it in force; returns the entries in force, or throws
    ///     an error whose description lists every problem.
    public init(
        path: String, naming: Naming, inForce: Int, watchInterval: Duration?, hangups: UnixSignalsSequence?, logger: Logger,
        apply: @escaping @Sendable (String) throws -> Int
    ) {
        self.path = path
        self.naming = naming
        self.watchInterval = watchInterval
        self.hangups = hangups
        self.logger = logger
        self.apply = apply
        self.lastContent = Mutex(FileManager.default.contents(atPath: path))
        self.appliedCounter = Counter(label: naming.reloadsMetric, dimensions: [("result", "applied")])
        self.rejectedCounter = Counter(label: naming.reloadsMetric, dimensions: [("result", "rejected")])
        self.inForce = Gauge(label: naming.countMetric)
        self.inForce.record(inForce)
    }

    /// Reads the file and puts it in force if it loads.
    /// - Parameter force: Reload even when the content is unchanged (on `SIGHUP`).
    /// - Returns: What happened.
    @discardableResult
    public func reload(force: Bool) -> Outcome {
        let content = FileManager.default.contents(atPath: self.path)
        let changed = self.lastContent.withLock { last in
            defer { last = content }
            return last != content
        }
        guard force || changed else { return .unchanged }
        do {
            let count = try self.apply(self.path)
            self.appliedCounter.increment()
            self.inForce.record(count)
            self.logger.notice("\(self.naming.applied)", metadata: [self.naming.fileKey: "\(self.path)", self.naming.countKey: "\(count)"])
            return .applied(count: count)
        } catch {
            self.rejectedCounter.increment()
            self.logger.error("\(self.naming.rejected)", metadata: [self.naming.fileKey: "\(self.path)", "problems": "\(error)"])
            return .rejected("\(error)")
        }
    }

    /// Reloads on every `SIGHUP` and on every content change seen by the watch, until graceful shutdown.
    public func run() async {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let hangups = self.hangups {
                    group.addTask {
                        for await _ in hangups {
                            self.reload(force: true)
                        }
                    }
                }
                if let interval = self.watchInterval {
                    group.addTask {
                        while (try? await Task.sleep(for: interval)) != nil {
                            self.reload(force: false)
                        }
                    }
                }
            }
        }
    }
}
