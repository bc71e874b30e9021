import GatehouseNIOSupport
import GatehouseRPC
import Logging
import Metrics
import Synchronization

/// The batching behind ``LimiterClient/acquire(_:traceID:)``: concurrent lease requests go out together through
/// a ``CallBatcher`` (the requests of one event-loop tick, and those that arrive while 4 calls of their loop are
/// in flight, as one `limiter.AcquireBatch`), and each caller gets its own outcome.
///
/// A limiter without `limiter.AcquireBatch` (an older version, during a rolling upgrade; `unimplemented`, so
/// nothing was granted) is sent checks instead for ``checksOnlyInterval``, then asked for leases again:
/// `limiter.Check` for one request, `limiter.CheckBatch` for more (or single checks when it does not know that
/// method either); every allowed policy is granted its cost, to spend at once.
final class LimiterCallBatcher: Sendable {
    /// One acquire: the request and the HTTP request's id for the limiter's logs.
    typealias Pending = (request: LimiterRequest, traceID: String?)

    /// What the client knows of its limiter: until when it is taken for one without `limiter.AcquireBatch`,
    /// and its longest lease.
    private final class LimiterState: Sendable {
        let checksOnlyUntil = Mutex<ContinuousClock.Instant?>(nil)
        /// The limiter's longest lease in milliseconds, as its last `limiter.AcquireBatch` answer said (1 s until it says).
        let leasePeriodMilliseconds = Atomic<Int>(1000)
    }

    private let batcher: CallBatcher<Pending, Result<LimiterDecision, LimiterClientError>>
    private let state: LimiterState

    /// How long a limiter without `limiter.AcquireBatch` is asked for checks instead.
    static let checksOnlyInterval = Duration.seconds(30)

    /// Creates the batching over `rpc`.
    /// - Parameters:
    ///   - rpc: The connection pool to the limiter.
    ///   - counters: Count the calls made; `nil`: not counted.
    ///   - logger: Receives the notice that the limiter grants no leases.
    init(rpc: RPCClient, counters: LimiterCallCounters?, logger: Logger) {
        let state = LimiterState()
        self.state = state
        self.batcher = CallBatcher { acquires in try await Self.send(acquires, over: rpc, state: state, counters: counters, logger: logger) }
    }

    /// Sends one acquire, in a batch with whatever else is waiting.
    func submit(_ acquire: Pending) async throws -> Result<LimiterDecision, LimiterClientError> {
        try await self.batcher.submit(acquire)
    }

    /// Whether the limiter is taken for one without `limiter.AcquireBatch` at `now`.
    func sendsChecksOnly(at now: ContinuousClock.Instant) -> Bool {
        self.state.checksOnlyUntil.withLock { $0.map { $0 > now } ?? false }
    }

    /// The limiter's longest lease in milliseconds, as its last `limiter.AcquireBatch` answer said (1 s until it says).
    var leasePeriodMilliseconds: Int {
        self.state.leasePeriodMilliseconds.load(ordering: .relaxed)
    }

    /// Sends one batch of acquires as `limiter.AcquireBatch`; to a limiter without it (`unimplemented`, so
    /// nothing was granted) as checks (``sendChecks(_:over:counters:)``) whose every allowed policy is granted its
    /// cost to spend at once, for ``checksOnlyInterval``. An outcome per acquire, in order.
    private static func send(
        _ acquires: [Pending], over rpc: RPCClient, state: LimiterState, counters: LimiterCallCounters?, logger: Logger
    ) async throws -> [Result<LimiterDecision, LimiterClientError>] {
        let now = ContinuousClock.now
        if !(state.checksOnlyUntil.withLock { $0.map { $0 > now } ?? false }) {
            counters?.acquire.increment()
            do {
                let answer = try await LimiterClient.acquireBatch(acquires.map(\.request), over: rpc)
                if answer.leasePeriodMilliseconds > 0 {
                    state.leasePeriodMilliseconds.store(Int(clamping: answer.leasePeriodMilliseconds), ordering: .relaxed)
                }
                return answer.outcomes
            } catch let error as LimiterClientError where error.reason == .methodUnknown {
                state.checksOnlyUntil.withLock { $0 = .now + Self.checksOnlyInterval }
                logger.notice("the limiter does not grant leases (an older version); every request is decided by a limiter check until it does")
            }
        }
        let results = try await Self.sendChecks(acquires, over: rpc, counters: counters)
        return zip(acquires, results).map { acquire, result in
            result.map { response in
                var response = response
                for index in response.statuses.indices where response.statuses[index].allowed && index < acquire.request.items.count {
                    response.statuses[index].granted = UInt32(clamping: acquire.request.items[index].cost ?? 0)
                }
                return response
            }
        }
    }

    /// Sends acquires as checks: `limiter.Check` for one, `limiter.CheckBatch` for more (or single checks when
    /// the limiter does not know that method either); an outcome per check, in order.
    private static func sendChecks(
        _ checks: [Pending], over rpc: RPCClient, counters: LimiterCallCounters?
    ) async throws -> [Result<LimiterDecision, LimiterClientError>] {
        if checks.count == 1 {
            counters?.check.increment()
            return [.success(try await LimiterClient.check(checks[0].request, traceID: checks[0].traceID, over: rpc))]
        }
        counters?.check.increment()
        do {
            return try await LimiterClient.checkBatch(checks.map(\.request), over: rpc)
        } catch let error as LimiterClientError where error.reason == .methodUnknown {
            return await checks.concurrentMap { check in
                do {
                    counters?.check.increment()
                    return .success(try await LimiterClient.check(check.request, traceID: check.traceID, over: rpc))
                } catch {
                    return .failure(error as? LimiterClientError ?? LimiterClientError(.unreachable, "\(error)"))
                }
            }
        }
    }
}
