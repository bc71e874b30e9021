/// A route's `upstream.health_check:`: how the edge probes each address of the upstream actively
/// (``UpstreamHealthProbe``), besides the passive ejection every upstream has. Read and checked at load
/// (docs/configuration.md, "Edge route file").
struct UpstreamHealthCheck: Sendable, Hashable {
    /// The path probed with `GET` (an answer `2xx` or `3xx` passes).
    var path: String
    /// Time between the start of one round of probes and the next.
    var interval: Duration
    /// How long one probe may take, connecting included; longer is a failure.
    var timeout: Duration
    /// Passed probes in a row that mark an unhealthy address healthy again.
    var healthyAfter: Int
    /// Failed probes in a row that mark a healthy address unhealthy.
    var unhealthyAfter: Int

    /// The values of the keys a route leaves out.
    static let defaults = UpstreamHealthCheck(path: "/", interval: .seconds(10), timeout: .seconds(2), healthyAfter: 2, unhealthyAfter: 3)
}
