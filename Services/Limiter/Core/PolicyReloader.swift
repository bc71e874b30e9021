import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization
import UnixSignals

/// Keeps the limiter's policies in step with the policy file: reloads on `SIGHUP` and when the file's
/// content changes, without dropping a request.
///
/// A file that does not parse is rejected with every problem logged, and the policies in force stay;
/// the same bad content is reported once, not on every check. Exported metrics:
/// `gatehouse_limiter_policy_reloads_total{result="applied"|"rejected"}` and
/// `gatehouse_limiter_policies` (policies in force).
public final class PolicyReloader: Service, Sendable {
    /// What a reload did.
    public enum Outcome: Sendable, Equatable {
        /// The file was read and its policies are in force.
        case applied(policies: Int)
        /// The file is unchanged since the last attempt; nothing was done.
        case unchanged
        /// The file was rejected; the old policies stay. The text lists every problem.
        case rejected(String)
    }

    private let path: String
    private let decider: LimiterDecider
    private let watchInterval: Duration?
    private let hangups: UnixSignalsSequence?
    private let logger: Logger
    /// The bytes of the file last attempted (applied or rejected).
    private let lastContent: Mutex<Data?>

    private static let applied = Counter(label: "gatehouse_limiter_policy_reloads_total", dimensions: [("result", "applied")])
    private static let rejected = Counter(label: "gatehouse_limiter_policy_reloads_total", dimensions: [("result", "rejected")])
    private static let policiesInForce = Gauge(label: "gatehouse_limiter_policies")

    /// Creates a reloader for a decider whose catalog was loaded from `path`.
    /// - Parameters:
    ///   - path: The policy file.
    ///   - decider: Receives each new catalog.
    ///   - watchInterval: How often the file's content is compared with the last one read; `nil`: never.
    ///   - hangups: `SIGHUP`s, trapped before the service starts so none is lost (and none kills the process);
    ///     `nil` in tests that must not touch signal handling.
    ///   - logger: Receives one line per reload or rejection.
    public init(path: String, decider: LimiterDecider, watchInterval: Duration?, hangups: UnixSignalsSequence?, logger: Logger) {
        self.path = path
        self.decider = decider
        self.watchInterval = watchInterval
        self.hangups = hangups
        self.logger = logger
        self.lastContent = Mutex(FileManager.default.contents(atPath: path))
        Self.policiesInForce.record(decider.catalog.policies.count)
    }

    /// Reads the file and puts its policies in force if they are valid.
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
            let catalog = try PolicyCatalog.load(path: self.path)
            self.decider.replaceCatalog(catalog)
            Self.applied.increment()
            Self.policiesInForce.record(catalog.policies.count)
            self.logger.notice("policies reloaded", metadata: ["policies.file": "\(self.path)", "policies.count": "\(catalog.policies.count)"])
            return .applied(policies: catalog.policies.count)
        } catch {
            Self.rejected.increment()
            self.logger.error(
                "policy file rejected; the previous policies stay in force",
                metadata: ["policies.file": "\(self.path)", "problems": "\(error.description)"]
            )
            return .rejected(error.description)
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
