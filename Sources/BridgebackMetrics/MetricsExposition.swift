public import Metrics
import Prometheus
import Synchronization

/// What a process answers on `GET /metrics`: the Prometheus text format of its registry.
///
/// Libraries never see the backend: they record through swift-metrics (a factory they are
/// given, or the global one) and serve whatever this renders. Only the executable builds one,
/// with ``MetricsBootstrap/prometheus(enabled:)``.
public struct MetricsExposition: Sendable {
    /// The `Content-Type` of the text format, version 0.0.4 (what Prometheus scrapes).
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private let render: @Sendable () -> [UInt8]

    public init(render: @escaping @Sendable () -> [UInt8]) {
        self.render = render
    }

    /// The current values of every series, in the text format.
    public func text() -> [UInt8] { render() }

    /// A registry of its own and a factory that records into it (tests, and the executable).
    public static func prometheus() -> (exposition: MetricsExposition, factory: any MetricsFactory) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = MetricsBuckets.fast
        factory.durationHistogramBuckets = MetricsBuckets.perMetric
        return (MetricsExposition { registry.emitToBuffer() }, factory)
    }

    /// The sum of every sample of `name` whose labels include all of `labels` (nil when there is
    /// none), read back from this process's current text.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        Self.sum(of: name, labels: labels, in: String(decoding: text(), as: UTF8.self))
    }

    /// The same, from Prometheus text scraped over HTTP: how a test or a check reads a value back.
    public static func sum(of name: String, labels: [String: String] = [:], in text: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            guard series.prefix(while: { $0 != "{" }) == name, let value = Double(line[line.index(after: space)...]) else { continue }
            guard labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// Says metrics are off (`BRIDGEBACK_METRICS=off`), so a scrape is not mistaken for an idle process.
    public static let disabled = MetricsExposition {
        Array("# metrics are disabled in this process (BRIDGEBACK_METRICS=off)\n".utf8)
    }
}

/// Histogram buckets. Defaults suit sub-second work (HTTP handlers, confirms, SQLite commits);
/// metrics that measure whole jobs get buckets up to hours.
public enum MetricsBuckets {
    public static let fast: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30),
    ]
    public static let slow: [Duration] = [
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120), .seconds(300), .seconds(600), .seconds(1800),
        .seconds(3600), .seconds(7200), .seconds(21600),
    ]
    /// Metrics whose values are whole-job times.
    public static let perMetric: [String: [Duration]] = [
        "bridgeback_worker_job_duration_seconds": slow,
        "bridgeback_coordinator_submit_to_delivered_seconds": slow,
    ]
}

/// Bootstraps swift-metrics once for the process; only the executable calls it.
public enum MetricsBootstrap {
    private static let exposition = Mutex<MetricsExposition?>(nil)

    /// The first call bootstraps `MetricsSystem` with a Prometheus registry (or leaves the no-op
    /// backend when `enabled` is false); every call returns the same exposition.
    public static func prometheus(enabled: Bool = true) -> MetricsExposition {
        exposition.withLock { current in
            if let current { return current }
            guard enabled else {
                current = .disabled
                return .disabled
            }
            let (made, factory) = MetricsExposition.prometheus()
            MetricsSystem.bootstrap(factory)
            current = made
            return made
        }
    }
}
