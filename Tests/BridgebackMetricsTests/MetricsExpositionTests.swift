import BridgebackMetrics
import Metrics
import Testing

/// The exposition renders what was recorded through swift-metrics, in the text format
/// Prometheus scrapes, with the units and bucket choices the docs promise.
@Suite struct MetricsExpositionTests {
    @Test func recordedSeriesAppearInTheTextFormat() {
        let (exposition, factory) = MetricsExposition.prometheus()
        Counter(label: "bridgeback_test_things_total", dimensions: [("kind", "a")], factory: factory).increment(by: 3)
        Gauge(label: "bridgeback_test_depth", factory: factory).record(7)
        Metrics.Timer(label: "bridgeback_test_step_seconds", factory: factory).recordMilliseconds(3)
        let text = String(decoding: exposition.text(), as: UTF8.self)
        #expect(text.contains("# TYPE bridgeback_test_things_total counter"))
        #expect(text.contains(#"bridgeback_test_things_total{kind="a"} 3"#))
        #expect(text.contains("bridgeback_test_depth 7"))
        #expect(text.contains("# TYPE bridgeback_test_step_seconds histogram"))
        // 3 ms lands in the 5 ms bucket and not in the 2 ms one: durations are exposed in seconds.
        #expect(text.contains(#"bridgeback_test_step_seconds_bucket{le="0.002"} 0"#))
        #expect(text.contains(#"bridgeback_test_step_seconds_bucket{le="0.005"} 1"#))
    }

    @Test func wholeJobTimesGetBucketsUpToHours() {
        let (exposition, factory) = MetricsExposition.prometheus()
        Metrics.Timer(label: "bridgeback_coordinator_submit_to_delivered_seconds", dimensions: [("outcome", "delivered")], factory: factory)
            .recordSeconds(1500)
        let text = String(decoding: exposition.text(), as: UTF8.self)
        #expect(text.contains(#"bridgeback_coordinator_submit_to_delivered_seconds_bucket{outcome="delivered",le="1800.0"} 1"#))
        #expect(text.contains(#"bridgeback_coordinator_submit_to_delivered_seconds_bucket{outcome="delivered",le="600.0"} 0"#))
    }

    @Test func theDisabledExpositionSaysSo() {
        #expect(String(decoding: MetricsExposition.disabled.text(), as: UTF8.self).contains("disabled"))
    }
}
