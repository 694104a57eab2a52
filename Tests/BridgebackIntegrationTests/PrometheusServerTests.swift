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

        @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: prometheus)))
        func theShippedScrapeConfigCollectsTheFleetAndTheBroker() async throws {
            try await withFleet("prom") { fleet in
                try await fleet.startAll(workers: 1)
                // The shipped configuration, pointed at this fleet's ports, scraping every second.
                let config = fleet.directory.appendingPathComponent("monitoring")
                try FileManager.default.copyItem(at: Broker.repoRoot.appendingPathComponent("deploy/monitoring"), to: config)
                var text = try String(contentsOf: config.appendingPathComponent("prometheus.yml"), encoding: .utf8)
                text = text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(fleet.admissionPort)")
                    .replacingOccurrences(of: "127.0.0.1:8090", with: "127.0.0.1:\(fleet.coordinatorPort)")
                    .replacingOccurrences(of: "scrape_interval: 15s", with: "scrape_interval: 1s")
                try text.write(to: config.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
                try Data((fleet.token + "\n").utf8).write(to: config.appendingPathComponent("prometheus.token"))
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
                        port, "sum(up{job=~\"bridgeback-admission|bridgeback-coordinator|rabbitmq|rabbitmq-queues\"})")
                    return up == 4
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
                let consumers = try await Self.query(port, "rabbitmq_detailed_queue_consumers{queue=\"bb.jobs.\(fleet.pool)\"}")
                #expect(consumers == 1, "the broker's per-queue metrics reach Prometheus")
                let latency = try await Self.query(port, "sum(bridgeback_coordinator_submit_to_delivered_seconds_count)")
                #expect((latency ?? 0) >= 4)
            }
        }
    }
}
