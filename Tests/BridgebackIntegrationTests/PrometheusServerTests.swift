import Foundation
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The shipped scrape configuration, loaded by the real Prometheus server (Debian's
/// `prometheus`), against a running fleet and the broker's rabbitmq_prometheus.
extension BrokerBacked {
    @Suite(.serialized)
    struct PrometheusServerTests {
        static let prometheus = "/usr/bin/prometheus"

        /// The value of the first sample of an instant query (nil when there is none).
        static func query(_ port: Int, _ promQL: String) async throws -> Double? {
            var components = URLComponents(string: "http://127.0.0.1:\(port)/api/v1/query")!
            components.queryItems = [URLQueryItem(name: "query", value: promQL)]
            let (data, _) = try await URLSession.shared.data(from: components.url!)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let result = (object?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
            guard let value = result.first?["value"] as? [Any], let text = value.last as? String else { return nil }
            return Double(text)
        }

        /// Every metric name the shipped alert rules and Grafana dashboard mention.
        static func queriedMetrics() throws -> Set<String> {
            var names: Set<String> = []
            let regex = try NSRegularExpression(pattern: #"\b(?:bridgeback|rabbitmq)_[a-z_]+"#)
            for file in ["alerts.yml", "grafana-dashboard.json"] {
                let text = try String(
                    contentsOf: Broker.repoRoot.appendingPathComponent("deploy/monitoring/\(file)"), encoding: .utf8)
                for match in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    if let range = Range(match.range, in: text) { names.insert(String(text[range])) }
                }
            }
            return names
        }

        /// Counters labelled by what went wrong (an AMQP code, a failure kind): they appear with
        /// their first failure, which this healthy run does not have (docs/operations.md says so).
        static let firstFailureOnly: Set<String> = [
            "bridgeback_admission_outbox_failures_total", "bridgeback_coordinator_delivery_failures_total",
        ]

        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: prometheus)))
        func theShippedScrapeConfigCollectsTheFleetAndTheBroker() async throws {
            try await withFleet("prom") { fleet in
                fleet.extraArguments["worker"] = ["--metrics-port", "0"]
                try await fleet.startAll(workers: 1)
                let workerPort = try await fleet.process("worker1")!.waitForPort()
                // The shipped configuration, pointed at this fleet's ports, scraping every second.
                let config = fleet.directory.appendingPathComponent("monitoring")
                try FileManager.default.copyItem(at: Broker.repoRoot.appendingPathComponent("deploy/monitoring"), to: config)
                var text = try String(contentsOf: config.appendingPathComponent("prometheus.yml"), encoding: .utf8)
                text = text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(fleet.admissionPort)")
                    .replacingOccurrences(of: "127.0.0.1:8090", with: "127.0.0.1:\(fleet.coordinatorPort)")
                    .replacingOccurrences(of: "scrape_interval: 15s", with: "scrape_interval: 1s")
                try text.write(to: config.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
                try Data((fleet.token + "\n").utf8).write(to: config.appendingPathComponent("prometheus.token"))
                // The worker through file service discovery, as targets/workers.json ships.
                let workers = [["targets": ["127.0.0.1:\(workerPort)"], "labels": ["pool": fleet.pool]]]
                try JSONSerialization.data(withJSONObject: workers).write(to: config.appendingPathComponent("targets/workers.json"))
                let port = 19000 + Int.random(in: 0..<900)
                let server = try fleet.start(
                    "prometheus",
                    [
                        "--config.file=\(config.path)/prometheus.yml", "--storage.tsdb.path=\(fleet.directory.path)/tsdb",
                        "--web.listen-address=127.0.0.1:\(port)",
                    ],
                    executable: Self.prometheus)
                try await server.waitForLog("Server is ready to receive web requests")

                try await eventually("Prometheus scrapes admission, the coordinator and the broker", timeout: .seconds(30)) {
                    let up = try await Self.query(
                        port, "sum(up{job=~\"bridgeback-admission|bridgeback-coordinator|bridgeback-worker|rabbitmq|rabbitmq-queues\"})")
                    return up == 5
                }
                let ids = try await fleet.submitAll(
                    (0..<4).map { i in
                        fleet.detach("echo", params: ["text": "p\(i)"], final: "file:\(fleet.parent)", mode: "direct")
                    })
                try await eventually("the jobs are delivered", timeout: .seconds(60)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome == "delivered" }
                }
                try await eventually("Prometheus sees the deliveries move", timeout: .seconds(30)) {
                    let delivered = try await Self.query(port, "sum(bridgeback_coordinator_deliveries_total{outcome=\"delivered\"})") ?? 0
                    let detached = try await Self.query(port, "sum(bridgeback_admission_requests_total{decision=\"detach\"})") ?? 0
                    return delivered >= 4 && detached >= 4
                }
                let refused = try await fleet.submit(fleet.detach("echo", params: ["text": "x"], final: "nowhere:at-all", mode: "direct"))
                #expect(refused.status >= 400 && refused.status < 500)
                // Every metric the alert rules and the Grafana dashboard query reaches Prometheus.
                let expected = try Self.queriedMetrics().subtracting(Self.firstFailureOnly)
                #expect(expected.count >= 25, "\(expected.sorted())")
                var missing: [String] = []
                try? await eventually("every queried metric is in Prometheus", timeout: .seconds(30)) {
                    missing = []
                    for name in expected.sorted() {
                        let count = try await Self.query(port, "count({__name__=~\"\(name)(_bucket)?\"})")
                        if (count ?? 0) == 0 { missing.append(name) }
                    }
                    return missing.isEmpty
                }
                #expect(missing.isEmpty, "queried by alerts.yml or grafana-dashboard.json, absent from Prometheus: \(missing)")
                // Per queue from the broker: publishes, deliveries and acks (rates are rate() of them), and the
                // quorum queue's Raft state.
                let queue = "queue=\"bb.jobs.\(fleet.pool)\""
                var absent: [String] = []
                try? await eventually("the broker's per-queue flow and Raft figures arrive", timeout: .seconds(20)) {
                    absent = []
                    for name in [
                        "rabbitmq_detailed_queue_messages_published_total", "rabbitmq_detailed_channel_messages_delivered_ack_total",
                        "rabbitmq_detailed_channel_messages_acked_total", "rabbitmq_detailed_raft_log_commit_index",
                    ] where (try await Self.query(port, "sum(\(name){\(queue)})") ?? 0) == 0 {
                        absent.append(name)
                    }
                    return absent.isEmpty
                }
                if !absent.isEmpty {
                    let (data, _) = try await URLSession.shared.data(
                        from: URL(string: "http://127.0.0.1:\(port)/api/v1/label/__name__/values")!)
                    let names = String(decoding: data, as: UTF8.self).split(separator: "\"").filter { $0.hasPrefix("rabbitmq_detailed") }
                    Issue.record("absent or zero for bb.jobs.\(fleet.pool): \(absent); the broker's detailed names: \(names)")
                }
                let consumers = try await Self.query(port, "rabbitmq_detailed_queue_consumers{queue=\"bb.jobs.\(fleet.pool)\"}")
                #expect(consumers == 1, "the broker's per-queue metrics reach Prometheus")
                let latency = try await Self.query(port, "sum(bridgeback_coordinator_submit_to_delivered_seconds_count)")
                #expect((latency ?? 0) >= 4)
            }
        }
    }
}
