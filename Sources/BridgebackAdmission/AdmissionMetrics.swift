import BridgebackAdmissionStore
public import Metrics
import Synchronization

/// The admission service's metrics, created from one factory so tests can inject their own
/// and the executable decides the backend (only it bootstraps `MetricsSystem`).
///
/// - `bridgeback_admission_requests_total{decision}` — decided requests (`inline`, `detach`, `replay`)
/// - `bridgeback_admission_triggers_total{trigger}` — policy triggers that matched a decided request
/// - `bridgeback_admission_refused_total{code}` — 4xx answers by error code
/// - `bridgeback_admission_submit_seconds{status_class}` — `POST /v1/requests` handling time (`2xx`, `4xx`, `5xx`)
/// - `bridgeback_admission_refusals_not_recorded_total{reason}` — contract refusals answered but
///   not stored for the audit (over the per-minute budget)
/// - `bridgeback_admission_outbox_backlog` — unsent outbox rows
/// - `bridgeback_admission_outbox_oldest_age_seconds` — age of the oldest unsent row (0 when empty)
/// - `bridgeback_admission_outbox_published_total{kind}` — rows confirmed by the broker
/// - `bridgeback_admission_outbox_failures_total{code}` — failed publish attempts by AMQP code
public final class AdmissionMetrics: Sendable {
    private let factory: any MetricsFactory
    private let backlogGauge: Gauge
    private let oldestGauge: Gauge
    private let timers = Mutex<[String: Metrics.Timer]>([:])
    private let counters = Mutex<[String: Counter]>([:])

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        backlogGauge = Gauge(label: "bridgeback_admission_outbox_backlog", dimensions: [], factory: factory)
        oldestGauge = Gauge(label: "bridgeback_admission_outbox_oldest_age_seconds", dimensions: [], factory: factory)
    }

    func request(decision: String) { counter("bridgeback_admission_requests_total", "decision", decision).increment() }
    func refused(code: String) { counter("bridgeback_admission_refused_total", "code", code).increment() }
    func published(kind: String, count: Int = 1) {
        counter("bridgeback_admission_outbox_published_total", "kind", kind).increment(by: count)
    }
    func publishFailed(code: String) { counter("bridgeback_admission_outbox_failures_total", "code", code).increment() }
    func refusalNotRecorded() { counter("bridgeback_admission_refusals_not_recorded_total", "reason", "budget").increment() }
    func pruned(_ records: PrunedRecords) {
        for (kind, count) in [("jobs", records.jobs), ("requests", records.requests), ("refusals", records.refusals)] where count > 0 {
            counter("bridgeback_admission_pruned_total", "kind", kind).increment(by: count)
        }
    }
    func backlog(_ value: Int) { backlogGauge.record(value) }
    func oldest(ageSeconds: Double) { oldestGauge.record(max(0, ageSeconds)) }
    func triggers(_ names: [String]) { for name in names { counter("bridgeback_admission_triggers_total", "trigger", name).increment() } }

    func submitted(status: Int, after duration: Duration) {
        let statusClass = "\(status / 100)xx"
        let timer = timers.withLock { cache in
            if let existing = cache[statusClass] { return existing }
            let made = Metrics.Timer(
                label: "bridgeback_admission_submit_seconds", dimensions: [("status_class", statusClass)], factory: factory)
            cache[statusClass] = made
            return made
        }
        timer.record(duration: duration)
    }

    private func counter(_ label: String, _ key: String, _ value: String) -> Counter {
        counters.withLock { cache in
            let id = "\(label)|\(value)"
            if let existing = cache[id] { return existing }
            let counter = Counter(label: label, dimensions: [(key, value)], factory: factory)
            cache[id] = counter
            return counter
        }
    }
}
