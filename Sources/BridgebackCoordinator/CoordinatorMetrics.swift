import BridgebackCore
import Metrics

/// The coordinator's counters. Labels are stable: dashboards and alerts key on them.
struct CoordinatorMetrics: Sendable {
    let factory: any MetricsFactory

    /// Creates, at zero, the counters the shipped alerts watch with `increase()`: a series that
    /// first appears at 1 shows Prometheus no increase, so the first lost job, dead-lettered job
    /// or uncertain delivery after a start would page nobody. `surfaceKinds`: the registry's kinds.
    func registerAlertedSeries(surfaceKinds: Set<String>) {
        for label in [
            "bridgeback_coordinator_lost_total", "bridgeback_coordinator_parked_total",
            "bridgeback_coordinator_duplicates_suppressed_total", "bridgeback_coordinator_cancelled_total",
            "bridgeback_coordinator_pruned_jobs_total",
        ] {
            _ = Counter(label: label, factory: factory)
        }
        for queue in ["contracts", "completions", "dead-jobs"] {
            _ = Counter(label: "bridgeback_coordinator_messages_total", dimensions: [("queue", queue)], factory: factory)
        }
        // Fallback notices go to the work surface and count as kind `progress` (DeliveryDriver.report).
        let parts = surfaceKinds.map { ($0, DeliveryID.Purpose.final) } + [("progress", DeliveryID.Purpose.fallback)]
        for (kind, purpose) in parts {
            for outcome in DeliveryOutcome.allCases {
                _ = Counter(
                    label: "bridgeback_coordinator_deliveries_total",
                    dimensions: [("outcome", outcome.rawValue), ("surface_kind", kind), ("purpose", purpose.rawValue)], factory: factory)
            }
        }
    }

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

    /// `bridgeback_coordinator_pruned_jobs_total`: jobs the ledger's retention deleted.
    func pruned(_ jobs: Int) {
        guard jobs > 0 else { return }
        Counter(label: "bridgeback_coordinator_pruned_jobs_total", factory: factory).increment(by: jobs)
    }

    /// Jobs cancelled by request (decided `cancelled`).
    func cancelled() { Counter(label: "bridgeback_coordinator_cancelled_total", factory: factory).increment() }

    /// `bridgeback_coordinator_messages_total{queue}`: messages taken from `contracts`, `completions`, `dead-jobs`.
    func consumed(queue: String) {
        Counter(label: "bridgeback_coordinator_messages_total", dimensions: [("queue", queue)], factory: factory).increment()
    }

    /// `bridgeback_coordinator_delivery_failures_total{surface_kind, failure_kind}`: failed attempts and dry-runs
    /// (permission, missing_target, rate_limited, transport, too_large, unknown_outcome …).
    func failure(kind surfaceKind: String, failure: String) {
        Counter(
            label: "bridgeback_coordinator_delivery_failures_total",
            dimensions: [("surface_kind", surfaceKind), ("failure_kind", failure)], factory: factory
        ).increment()
    }

    /// `bridgeback_coordinator_delivery_attempt_seconds{surface_kind}`: one adapter send, answer or not.
    func attempt(kind: String, _ duration: Duration) {
        Metrics.Timer(label: "bridgeback_coordinator_delivery_attempt_seconds", dimensions: [("surface_kind", kind)], factory: factory)
            .record(duration: duration)
    }

    /// `bridgeback_coordinator_submit_to_delivered_seconds{outcome}`: from admission's contract
    /// (`created_at`) to the job's last part being terminal.
    func submitToFinal(outcome: String, seconds: Double) {
        Metrics.Timer(label: "bridgeback_coordinator_submit_to_delivered_seconds", dimensions: [("outcome", outcome)], factory: factory)
            .recordNanoseconds(Int64(max(0, seconds) * 1_000_000_000))
    }

    /// `bridgeback_coordinator_jobs{state}` and `bridgeback_coordinator_parts{state}`: the ledger now;
    /// `bridgeback_coordinator_oldest_awaiting_completion_seconds`: the oldest job queued or running
    /// (quorum queues in RabbitMQ 3.10 report no head-message age, so the ledger gives it).
    func ledgerCounts(jobs: [String: Int], parts: [String: Int], oldestAwaitingCompletion: Double) {
        Gauge(label: "bridgeback_coordinator_oldest_awaiting_completion_seconds", factory: factory).record(oldestAwaitingCompletion)
        for state in ["awaiting_contract", "completion_parked", "awaiting_completion", "delivering", "finished"] {
            Gauge(label: "bridgeback_coordinator_jobs", dimensions: [("state", state)], factory: factory).record(jobs[state] ?? 0)
        }
        for state in ["pending", "dry_run_ok", "retry_wait", "sending", "delivered", "failed", "uncertain"] {
            Gauge(label: "bridgeback_coordinator_parts", dimensions: [("state", state)], factory: factory).record(parts[state] ?? 0)
        }
    }

    /// Messages rejected to `bb.parked` (malformed, unknown schema, untrusted publisher, conflict).
    func rejected(queue: String, reason: String) {
        Counter(label: "bridgeback_coordinator_rejected_total", dimensions: [("queue", queue), ("reason", reason)], factory: factory)
            .increment()
    }
}
