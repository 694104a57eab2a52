import BridgebackAMQP
@testable import BridgebackCoordinator
import BridgebackCore
import BridgebackMetrics
import Foundation
import Testing

/// The coordinator's metrics (docs/operations.md, "Metrics") move with the events they count,
/// read back from the Prometheus text a scrape returns: the ones a healthy fleet never shows
/// (parked, duplicates, lost, dead-lettered, rejected, failed and uncertain deliveries) included.
@Suite("Coordinator metrics")
struct CoordinatorMetricsTests {
    @Test("at start the alerted counters are zero; a parked completion, a delivery and a duplicate each count once")
    func parkedDeliveredDuplicate() async throws {
        let (exposition, factory) = MetricsExposition.prometheus()
        let h = try Harness(metricsFactory: factory)
        #expect(exposition.value("bridgeback_coordinator_lost_total") == 0)
        #expect(exposition.value("bridgeback_coordinator_messages_total", ["queue": "dead-jobs"]) == 0)
        // Every surface kind in the registry, each outcome: the harness has inbox, webhook and stdout surfaces.
        for kind in ["inbox", "webhook", "stdout"] {
            #expect(
                exposition.value("bridgeback_coordinator_deliveries_total", ["outcome": "uncertain", "surface_kind": kind]) == 0,
                "\(kind)")
        }
        let contract = makeContract()
        try await h.running { () async throws in
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))  // before its contract: parked
            _ = try await h.coordinator.handleContract(body(contract))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))  // again: a duplicate
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(exposition.value("bridgeback_coordinator_parked_total") == 1)
        #expect(exposition.value("bridgeback_coordinator_duplicates_suppressed_total") == 1)
        #expect(exposition.value("bridgeback_coordinator_messages_total", ["queue": "contracts"]) == 1)
        #expect(exposition.value("bridgeback_coordinator_messages_total", ["queue": "completions"]) == 2)
        let delivered = ["outcome": "delivered", "surface_kind": "inbox", "purpose": "final"]
        #expect(exposition.value("bridgeback_coordinator_deliveries_total", delivered) == 1)
        #expect(exposition.value("bridgeback_coordinator_submit_to_delivered_seconds_count", ["outcome": "delivered"]) == 1)
        // The contract was made 60 s before: the time runs from admission's clock.
        #expect((exposition.value("bridgeback_coordinator_submit_to_delivered_seconds_sum") ?? 0) >= 59)
        // bridgeback_coordinator_ledger_commit_seconds is the ledger's, on the process's factory:
        // MetricsIntegrationTests sees it move.
    }

    @Test("a refused webhook counts a failed delivery and its failure kind; a timeout counts an uncertain one")
    func failedAndUncertain() async throws {
        let (exposition, factory) = MetricsExposition.prometheus()
        let http = FakeHTTPClient { request, _ in
            request.url.path.hasSuffix("/a") ? .response(status: 403, headers: [:]) : .mayHaveBeenSent("read timed out")
        }
        let h = try Harness(http: http, metricsFactory: factory)
        let refused = makeContract(final: "hooks:a", mode: .direct)
        let timedOut = makeContract(final: "hooks:b", mode: .direct)
        try await h.running { () async throws in
            for contract in [refused, timedOut] {
                _ = try await h.coordinator.handleContract(body(contract))
                _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            }
            #expect(try await eventually { try await h.ledger.outcome(refused.jobID) == "failed" })
            #expect(try await eventually { try await h.ledger.outcome(timedOut.jobID) == "uncertain" })
        }
        let failed = ["outcome": "failed", "surface_kind": "webhook", "purpose": "final"]
        #expect(exposition.value("bridgeback_coordinator_deliveries_total", failed) == 1)
        let uncertain = ["outcome": "uncertain", "surface_kind": "webhook", "purpose": "final"]
        #expect(exposition.value("bridgeback_coordinator_deliveries_total", uncertain) == 1)
        let permission = ["surface_kind": "webhook", "failure_kind": "permission"]
        #expect(exposition.value("bridgeback_coordinator_delivery_failures_total", permission) == 1)
        #expect((exposition.value("bridgeback_coordinator_delivery_attempt_seconds_count", ["surface_kind": "webhook"]) ?? 0) >= 2)
        // The refused direct delivery falls back to the work surface (counted as kind `progress`).
        let fallback = ["outcome": "delivered", "surface_kind": "progress", "purpose": "fallback"]
        #expect(exposition.value("bridgeback_coordinator_deliveries_total", fallback) == 1)
    }

    @Test("a lost job, a dead-lettered job and a rejected message each count once")
    func lostDeadLetteredRejected() async throws {
        let (exposition, factory) = MetricsExposition.prometheus()
        let h = try Harness(metricsFactory: factory)
        let late = makeContract(deadline: Date().addingTimeInterval(-5))
        let poison = makeContract()
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(late))
            try await h.coordinator.sweep()
            #expect(try await eventually { try await h.ledger.outcome(late.jobID) == "delivered" })
            _ = try await h.coordinator.handleContract(body(poison))
            _ = try await h.coordinator.handleDeadLetter(try body(JobMessage(contract: poison)), reason: "delivery limit reached")
            _ = try await h.coordinator.handleContract(Array("{not json".utf8))
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(exposition.value("bridgeback_coordinator_lost_total") == 1)
        #expect(exposition.value("bridgeback_coordinator_messages_total", ["queue": "dead-jobs"]) == 1)
        #expect(exposition.value("bridgeback_coordinator_rejected_total", ["queue": "contracts"]) == 1)
    }
}
