import Metrics
import Prometheus

/// Installs swift-prometheus as the process-wide swift-metrics backend.
public enum MetricsBootstrap {
    /// Histogram buckets for `Timer`s of a service whose latencies run from sub-millisecond to seconds:
    /// 100 µs, 250 µs, 500 µs, 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5 and 5 s.
    public static let defaultDurationBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2500), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5),
    ]

    /// A factory over `registry` that gives `Timer`s the ``defaultDurationBuckets``, or buckets of their own.
    ///
    /// Use it directly (`Counter(label:dimensions:factory:)`) where the global `MetricsSystem` must not be touched,
    /// e.g. in tests.
    ///
    /// - Parameters:
    ///   - registry: The registry the metrics are created in and rendered from.
    ///   - durationBuckets: Buckets for particular `Timer`s, by label: finer ones around a target to check.
    public static func makeFactory(
        registry: PrometheusCollectorRegistry, durationBuckets: [String: [Duration]] = [:]
    ) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.defaultDurationBuckets
        factory.durationHistogramBuckets = durationBuckets
        return factory
    }

    /// Bootstraps `MetricsSystem` with ``makeFactory(registry:)`` and returns the registry to hand to ``AdminServer``.
    ///
    /// `MetricsSystem.bootstrap` may run only once per process: call this at the start of `main`.
    ///
    /// - Parameters:
    ///   - registry: The registry to use; a new one by default.
    ///   - durationBuckets: Buckets for particular `Timer`s, by label (``makeFactory(registry:durationBuckets:)``).
    /// - Returns: `registry`, which renders every metric created through swift-metrics.
    @discardableResult
    public static func bootstrap(
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), durationBuckets: [String: [Duration]] = [:]
    ) -> PrometheusCollectorRegistry {
        MetricsSystem.bootstrap(Self.makeFactory(registry: registry, durationBuckets: durationBuckets))
        return registry
    }
}
