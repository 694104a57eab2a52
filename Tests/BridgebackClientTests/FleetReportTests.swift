import BridgebackClient
import BridgebackCore
import Foundation
import Testing

/// `bridgeback status`'s judgement of the services' answers, without a fleet: the management
/// API's JSON as RabbitMQ writes it, and the typed health and delivery answers of the services.
@Suite("Fleet report: verdicts from the services' answers")
struct FleetReportTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    /// Two queues (one flowing, one with work and no consumer), a worker with 2 of 4 slots busy,
    /// an active coordinator and a standby; a queue that is not the fleet's is left out.
    static let queues = """
        [{"name": "bb.jobs.default", "messages_ready": 0, "messages_unacknowledged": 2, "consumers": 1,
          "message_stats": {"publish_details": {"rate": 1.5}, "deliver_get_details": {"rate": 1.25}, "ack_details": {"rate": 1.0}}},
         {"name": "bb.coordinator.completions", "messages_ready": 7, "messages_unacknowledged": 0, "consumers": 0},
         {"name": "other.queue", "messages_ready": 3},
         {"name": "bb.parked", "messages_ready": null}]
        """
    static let consumers = """
        [{"queue": {"name": "bb.jobs.default"}, "prefetch_count": 4, "active": true,
          "channel_details": {"connection_name": "bridgeback-worker-a", "peer_host": "10.0.0.5", "name": "ch-1"}},
         {"queue": {"name": "bb.coordinator.completions"}, "active": true, "channel_details": {"connection_name": "coord-1"}},
         {"queue": {"name": "bb.coordinator.completions"}, "active": false, "channel_details": {"connection_name": "coord-2"}}]
        """
    static let channels = #"[{"name": "ch-1", "messages_unacknowledged": 2}, {"name": "ch-2"}]"#

    static func answers(
        admission: APIClient.Answer<AdmissionHealth>, coordinator: APIClient.Answer<CoordinatorHealth>,
        deliveries: APIClient.Answer<DeliveryList>
    ) throws -> FleetReport.Answers {
        FleetReport.Answers(
            queues: .success(try decode(JSONValue.self, queues)), consumers: .success(try decode(JSONValue.self, consumers)),
            channels: .success(try decode(JSONValue.self, channels)), connections: .success(.array([])),
            admissionHealth: admission, coordinatorHealth: coordinator, deliveries: deliveries)
    }

    static func line(_ report: FleetReport, _ section: String, _ name: String) -> StatusLine? {
        report.lines.first { $0.section == section && $0.name == name }
    }

    @Test("a healthy fleet with a stalled queue: each piece judged, the worst verdict overall, figures kept")
    func verdicts() throws {
        let recent = JobDeliveryStatus(
            jobID: "job_1", state: "finished", finalOutcome: "delivered", createdAt: WireDate.format(Self.now.addingTimeInterval(-60)),
            human: "delivered")
        let failed = JobDeliveryStatus(
            jobID: "job_2", state: "finished", finalOutcome: "failed", createdAt: WireDate.format(Self.now.addingTimeInterval(-7200)),
            human: "failed")
        let parked = JobDeliveryStatus(jobID: "job_3", state: "completion_parked", human: "parked")
        let report = FleetReport.assemble(
            try Self.answers(
                admission: .ok(
                    AdmissionHealth(
                        status: "ok", store: "ok", outboxBacklog: 3, outboxOldestUnsentAgeS: 45, broker: "connected", policyVersion: "p1",
                        recipeCatalog: .recipes(2))),
                coordinator: .ok(
                    CoordinatorHealth(
                        status: "ok", ledger: "ok", jobsDelivering: 1, jobsAwaitingCompletion: 0, partsWaitingRetry: 2, broker: "connected")
                ),
                deliveries: .ok(DeliveryList(surface: nil, count: 3, jobs: [recent, failed, parked]))),
            admission: "http://a", coordinator: "http://c", now: Self.now)

        #expect(
            report.lines.filter { $0.section == "queues" }.map(\.name) == ["bb.coordinator.completions", "bb.jobs.default", "bb.parked"])
        let flowing = try #require(Self.line(report, "queues", "bb.jobs.default"))
        #expect(
            flowing.verdict == .ok && flowing.why == "flowing · ready 0, unacked 2, consumers 1, in 1.5/s out 1.2/s · no message waiting")
        #expect(Self.line(report, "queues", "bb.parked")?.why.hasPrefix("empty · ready 0") == true, "a null figure reads as 0")
        let stalled = try #require(Self.line(report, "queues", "bb.coordinator.completions"))
        #expect(stalled.verdict == .stalled && stalled.why.hasPrefix("7 waiting and nobody consumes this queue"))
        let worker = try #require(Self.line(report, "workers", "bridgeback-worker-a"))
        #expect(worker.why == "pool default on 10.0.0.5: 2 of 4 slots busy" && worker.figures["slots"] == .number(4))
        #expect(Self.line(report, "coordinator", "active consumer")?.why == "1 active, 1 standby waiting")
        let outbox = try #require(Self.line(report, "admission", "http://a"))
        #expect(outbox.verdict == .degraded && outbox.why == "3 rows unsent, oldest 45 s; broker connected")
        #expect(Self.line(report, "coordinator", "http://c")?.why == "ledger ok, broker connected, 1 delivering, 2 parts waiting to retry")
        #expect(Self.line(report, "jobs", "last hour")?.why == "1 delivered", "the failed job is older than an hour")
        let attention = try #require(Self.line(report, "deliveries", "need a person"))
        #expect(attention.verdict == .degraded && attention.why.hasPrefix("2: job_2 failed; job_3 completion_parked"))
        #expect(report.worst == .stalled)
        #expect(report.text(at: Self.now).contains("  stalled     bb.coordinator.completions: 7 waiting"))
        let json = report.json(at: Self.now)
        guard case .object(let top) = json, case .array(let checks)? = top["checks"] else {
            Issue.record("not an object with checks: \(json)")
            return
        }
        #expect(top["overall"] == .string("stalled") && checks.count == report.lines.count)
    }

    @Test("services that do not answer are unreachable with the reason; a coordinator that is down adds no jobs line")
    func unreachable() throws {
        let report = FleetReport.assemble(
            FleetReport.Answers(
                queues: .failure(.init(reason: "management API at http://m unreachable: refused")),
                consumers: .failure(.init(reason: "management API /api/consumers/{vhost} answered 401")),
                channels: .failure(.init(reason: "x")), connections: .failure(.init(reason: "x")),
                admissionHealth: .status(503, "store failing"), coordinatorHealth: .unreachable("connection refused"),
                deliveries: .unreachable("connection refused")),
            admission: "http://a", coordinator: "http://c", now: Self.now)
        #expect(report.lines.map(\.verdict).allSatisfy { $0 == .unreachable })
        #expect(report.lines.map(\.section) == ["queues", "workers", "admission", "coordinator"])
        #expect(Self.line(report, "admission", "http://a")?.why == "503: store failing")
        #expect(Self.line(report, "coordinator", "http://c")?.why == "unreachable: connection refused")
    }
}
