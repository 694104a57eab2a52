import BridgebackMetrics
import Foundation
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Prometheus text, parsed just enough to read samples: `name{labels} value` lines.
struct Scrape {
    let text: String

    static func fetch(_ url: String, token: String? = nil) async throws -> Scrape {
        var request = URLRequest(url: URL(string: url)!)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw TestFailure("GET \(url) → \(status): \(String(decoding: data, as: UTF8.self).prefix(300))") }
        let type = (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type") ?? ""
        guard type.hasPrefix("text/plain") else { throw TestFailure("GET \(url): Content-Type \(type), expected text/plain") }
        return Scrape(text: String(decoding: data, as: UTF8.self))
    }

    /// The sum of every sample of `name` whose labels include all of `labels` (nil when there is none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        MetricsExposition.sum(of: name, labels: labels, in: text)
    }

    func has(_ name: String) -> Bool { value(name) != nil }
}

/// Every process serves its metrics over HTTP, and real work moves them.
extension BrokerBacked {
    @Suite(.serialized)
    struct MetricsIntegrationTests {
        @Test func everyProcessServesMetricsThatMoveWithRealWork() async throws {
            try await withFleet("metrics") { fleet in
                try await fleet.prepareBroker()
                try await fleet.startReceiver()
                try await fleet.startCoordinator()
                let coordinatorPort = fleet.coordinatorPort
                let workerProcess = try fleet.start(
                    "worker1",
                    [
                        "worker", "--pool", fleet.pool, "--slots", "2", "--recipes", fleet.recipesFile.path, "--name", "worker1", "--grace",
                        "1",
                        "--metrics-port", "0",
                    ],
                    amqpURL: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"))
                let workerPort = try await workerProcess.waitForPort()
                try await workerProcess.waitForLog("worker started")
                // Without --metrics-port a worker serves no metrics (off by default).
                // (Stopped again before any job, so worker1's counts below are all the jobs.)
                try await fleet.startWorker("worker2", slots: 1)
                let worker2 = try #require(fleet.process("worker2"))
                #expect(!worker2.ownOutput.contains("metrics listening") && !worker2.ownOutput.contains("http.port="))
                worker2.kill(SIGTERM)
                worker2.waitForExit()
                try await fleet.startAdmission()
                let urls = (
                    admission: "http://127.0.0.1:\(fleet.admissionPort)/metrics",
                    coordinator: "http://127.0.0.1:\(coordinatorPort)/metrics",
                    worker: "http://127.0.0.1:\(workerPort)/metrics"
                )

                // /metrics on admission and the coordinator sits behind the same bearer tokens as their APIs.
                for url in [urls.admission, urls.coordinator] {
                    await #expect(throws: TestFailure.self, "\(url) without a token") { try await Scrape.fetch(url) }
                }
                let token = fleet.token
                let before = (
                    admission: try await Scrape.fetch(urls.admission, token: token),
                    coordinator: try await Scrape.fetch(urls.coordinator, token: token), worker: try await Scrape.fetch(urls.worker)
                )
                #expect(before.worker.value("bridgeback_worker_slots", ["pool": fleet.pool]) == 2)
                #expect(before.worker.value("bridgeback_amqp_connected", ["connection": "bridgeback-worker"]) == 1)
                #expect(before.coordinator.value("bridgeback_amqp_connected", ["connection": "bridgeback-coordinator"]) == 1)
                #expect(before.worker.value("bridgeback_amqp_consumer_prefetch", ["queue": "bb.jobs.\(fleet.pool)"]) == 2)
                // The counters the alerts watch with increase() exist at zero before anything happens
                // (a series first seen at 1 shows Prometheus no increase, and would page nobody).
                #expect(before.coordinator.value("bridgeback_coordinator_lost_total") == 0)
                #expect(before.coordinator.value("bridgeback_coordinator_messages_total", ["queue": "dead-jobs"]) == 0)
                for kind in ["webhook", "file", "inbox"] {
                    for outcome in ["uncertain", "failed", "delivered"] {
                        let labels = ["outcome": outcome, "surface_kind": kind, "purpose": "final"]
                        #expect(before.coordinator.value("bridgeback_coordinator_deliveries_total", labels) == 0, "\(labels)")
                    }
                }

                let bodies = (0..<6).map { i in
                    fleet.detach(
                        "echo", params: ["text": "m\(i)"], final: i % 2 == 0 ? "hooks:\(fleet.parent)" : "file:\(fleet.parent)",
                        mode: "direct")
                }
                let ids = try await fleet.submitAll(bodies, concurrency: 3)
                let refused = try await fleet.submit(fleet.detach("echo", params: ["text": "x"], final: "nowhere:at-all", mode: "direct"))
                #expect(refused.status >= 400 && refused.status < 500)
                try await eventually("all six jobs are delivered", timeout: .seconds(60)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome == "delivered" }
                }
                // The relay and the sweeper update their gauges on their own schedule; the counters are immediate.
                let after = (
                    admission: try await Scrape.fetch(urls.admission, token: token),
                    coordinator: try await Scrape.fetch(urls.coordinator, token: token), worker: try await Scrape.fetch(urls.worker)
                )
                func moved(_ scrapes: (Scrape, Scrape), _ name: String, _ labels: [String: String] = [:], by amount: Double) {
                    let (old, new) = (scrapes.0.value(name, labels) ?? 0, scrapes.1.value(name, labels) ?? 0)
                    #expect(new - old >= amount, "\(name)\(labels) moved \(old) → \(new), expected +\(amount)")
                }
                let admission = (before.admission, after.admission)
                moved(admission, "bridgeback_admission_requests_total", ["decision": "detach"], by: 6)
                moved(admission, "bridgeback_admission_submit_seconds_count", ["status_class": "2xx"], by: 6)
                moved(admission, "bridgeback_admission_submit_seconds_count", ["status_class": "4xx"], by: 1)
                moved(admission, "bridgeback_admission_refused_total", by: 1)
                moved(admission, "bridgeback_admission_outbox_published_total", ["kind": "job"], by: 6)
                moved(admission, "bridgeback_admission_outbox_published_total", ["kind": "contract"], by: 6)
                moved(admission, "bridgeback_amqp_publish_confirm_seconds_count", ["connection": "bridgeback-admission"], by: 12)
                #expect(after.admission.has("bridgeback_admission_outbox_backlog"))

                let worker = (before.worker, after.worker)
                moved(worker, "bridgeback_worker_jobs_started_total", ["pool": fleet.pool], by: 6)
                moved(worker, "bridgeback_worker_completions_published_total", ["pool": fleet.pool], by: 6)
                moved(worker, "bridgeback_worker_progress_published_total", ["pool": fleet.pool], by: 6)
                moved(worker, "bridgeback_worker_job_duration_seconds_count", ["recipe": "echo", "outcome": "succeeded"], by: 6)
                moved(worker, "bridgeback_amqp_publish_confirm_seconds_count", ["connection": "bridgeback-worker"], by: 6)
                #expect(after.worker.value("bridgeback_worker_jobs_running", ["pool": fleet.pool]) == 0)
                #expect(after.worker.value("bridgeback_amqp_consumer_unacked", ["queue": "bb.jobs.\(fleet.pool)"]) == 0)
                #expect(after.worker.value("bridgeback_amqp_unconfirmed_publishes") == 0)

                let coordinator = (before.coordinator, after.coordinator)
                moved(coordinator, "bridgeback_coordinator_messages_total", ["queue": "contracts"], by: 6)
                moved(coordinator, "bridgeback_coordinator_messages_total", ["queue": "completions"], by: 6)
                moved(coordinator, "bridgeback_coordinator_deliveries_total", ["outcome": "delivered", "surface_kind": "webhook"], by: 3)
                moved(coordinator, "bridgeback_coordinator_deliveries_total", ["outcome": "delivered", "surface_kind": "file"], by: 3)
                moved(coordinator, "bridgeback_coordinator_delivery_attempt_seconds_count", ["surface_kind": "webhook"], by: 3)
                moved(coordinator, "bridgeback_coordinator_submit_to_delivered_seconds_count", ["outcome": "delivered"], by: 6)
                moved(coordinator, "bridgeback_coordinator_ledger_commit_seconds_count", by: 12)
                // Submit-to-delivered is measured from admission's clock to the last part: a positive time.
                #expect((after.coordinator.value("bridgeback_coordinator_submit_to_delivered_seconds_sum") ?? 0) > 0)
                // The sweeper's first pass (at start) publishes the ledger gauges.
                #expect(after.coordinator.has("bridgeback_coordinator_oldest_awaiting_completion_seconds"))
                #expect(after.coordinator.has("bridgeback_coordinator_jobs"))
                #expect(!after.coordinator.text.contains(ids[0]), "a job id must never be a label")
                #expect(!after.admission.text.contains(ids[0]), "a job id must never be a label")
            }
        }
    }
}

/// The worker's metrics port is loopback only: it has no authentication.
@Suite struct WorkerMetricsFlagTests {
    @Test("--metrics-host outside loopback is a usage error naming the flag")
    func nonLoopbackRefused() throws {
        for host in ["0.0.0.0", "10.0.0.7", "::"] {
            let result = try PrincipalsCLITests.run(
                ["worker", "--metrics-port", "0", "--metrics-host", host], in: FileManager.default.temporaryDirectory)
            #expect(result.status == 64, "\(host): exit \(result.status): \(result.stderr.suffix(400))")
            #expect(result.stderr.contains("--metrics-host"), "\(result.stderr.suffix(400))")
        }
    }
}
