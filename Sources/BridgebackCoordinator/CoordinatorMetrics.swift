import BridgebackCore
import Metrics

/// The coordinator's counters. Labels are stable: dashboards and alerts key on them.
struct CoordinatorMetrics: Sendable {
    let factory: any MetricsFactory

    /// `bridgeback_coordinator_deliveries_total{outcome, surface_kind, purpose}` per terminal part.
    func delivery(_ outcome: DeliveryOutcome, kind: String, purpose: DeliveryID.Purpose) {
        Counter(
            label: "bridgeback_coordinator_deliveries_total",
            dimensions: [("outcome", outcome.rawValue), ("surface_kind", kind), ("purpose", purpose.rawValue)],
            factory: factory
        ).increment()
    }

    /// Duplicate endings (redelivered completions, late answers) acknowledged, not delivered.
    func duplicate() { Counter(label: "bridgeback_coordinator_duplicates_suppressed_total", factory: factory).increment() }

    /// Endings parked because their contract had not arrived.
    func parked() { Counter(label: "bridgeback_coordinator_parked_total", factory: factory).increment() }

    /// Jobs declared lost (no completion by deadline + grace).
    func lost() { Counter(label: "bridgeback_coordinator_lost_total", factory: factory).increment() }

    /// Messages rejected to `bb.parked` (malformed, unknown schema, untrusted publisher, conflict).
    func rejected(queue: String, reason: String) {
        Counter(label: "bridgeback_coordinator_rejected_total", dimensions: [("queue", queue), ("reason", reason)], factory: factory)
            .increment()
    }
}
