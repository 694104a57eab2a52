import BridgebackCore
import BridgebackMetrics
import BridgebackWorker
import Foundation
import Testing

/// The worker's metrics (docs/operations.md, "Metrics") move with what they count, read back
/// from the Prometheus text a scrape returns, the unhappy paths included.
@Suite("Worker metrics")
struct WorkerMetricsTests {
    @Test("starts, ends by outcome, durations by catalog recipe (else unknown), redeliveries and rejected messages")
    func jobsCounted() async throws {
        let (exposition, factory) = MetricsExposition.prometheus()
        let transport = FakeTransport()
        try await withWorker(transport, runner: try testRunner(), slots: 3, metricsFactory: factory) { t in
            #expect(exposition.value("bridgeback_worker_slots", ["pool": "test"]) == 3)
            t.send("ok", body: Array(try WireCodec.encode(makeJob("echo", ["text": "hi"]))), attempt: 2)
            t.send(makeJob("echo", ["text": "NOT lower case"]), name: "bad-param")
            t.send(makeJob("no-such-recipe"), name: "unknown")
            t.send("garbage", body: Array("not json".utf8))
            try await eventually { t.publishedCompletions.count == 3 && t.log.all.contains { $0.hasPrefix("reject garbage") } }
        }
        #expect(exposition.value("bridgeback_worker_jobs_started_total") == 3)
        #expect(exposition.value("bridgeback_worker_jobs_succeeded_total") == 1)
        #expect(exposition.value("bridgeback_worker_jobs_failed_total") == 2)
        #expect(exposition.value("bridgeback_worker_jobs_rejected_total") == 1)
        #expect(exposition.value("bridgeback_worker_redeliveries_total") == 1)
        #expect(exposition.value("bridgeback_worker_completions_published_total") == 3)
        #expect((exposition.value("bridgeback_worker_progress_published_total") ?? 0) >= 3)
        #expect(exposition.value("bridgeback_worker_jobs_running") == 0)
        let duration = "bridgeback_worker_job_duration_seconds_count"
        #expect(exposition.value(duration, ["recipe": "echo", "outcome": "succeeded"]) == 1)
        #expect(exposition.value(duration, ["recipe": "echo", "outcome": "failed"]) == 1)
        // A recipe name from a message is never a label: an unknown one is counted as `unknown`.
        #expect(exposition.value(duration, ["recipe": "unknown"]) == 1)
        #expect(!String(decoding: exposition.text(), as: UTF8.self).contains("no-such-recipe"))
    }

    @Test("a completion the broker does not confirm is counted and the job requeued")
    func completionPublishFailure() async throws {
        let (exposition, factory) = MetricsExposition.prometheus()
        let transport = FakeTransport(failCompletions: true)
        try await withWorker(transport, runner: try testRunner(), metricsFactory: factory) { t in
            t.send(makeJob("echo", ["text": "hi"]), name: "j1")
            try await eventually { t.log.all.contains { $0.hasPrefix("nack j1") } }
        }
        #expect(exposition.value("bridgeback_worker_completion_publish_failures_total") == 1)
        #expect(exposition.value("bridgeback_worker_jobs_requeued_total") == 1)
        #expect(exposition.value("bridgeback_worker_completions_published_total") == 0)
    }
}
