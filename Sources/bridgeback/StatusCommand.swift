import ArgumentParser
import BridgebackCoordinator
import BridgebackCore
import Foundation
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `bridgeback status`: the fleet on one screen, each piece with a verdict and why.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet on one screen: queues, workers, coordinator, admission's outbox, deliveries that need a person.",
        discussion: """
            Reads the RabbitMQ management API (queues: ready, unacked, consumers, rates; consumers:
            which workers are connected with how many slots and jobs in flight; which coordinator
            is the single active consumer and whether a standby waits), admission's /health
            (outbox backlog), and the coordinator's /health and /v1/deliveries (jobs by state over
            the last hour; deliveries uncertain, failed or parked). Every piece gets a verdict
            (ok, degraded, stalled) and the reason; a piece that does not answer says so.
            Exit status: 0 when nothing is stalled or unreachable, 1 otherwise.

            Environment:
              BRIDGEBACK_MANAGEMENT_URL       management API (default http://127.0.0.1:15672)
              BRIDGEBACK_MANAGEMENT_USER      a user with the monitoring tag (broker.sh: bb-monitor)
              BRIDGEBACK_MANAGEMENT_PASSWORD  its password
              BRIDGEBACK_ADMISSION_URL, BRIDGEBACK_COORDINATOR_URL, BRIDGEBACK_TOKEN(_FILE) as for `jobs`
            """)

    @OptionGroup var endpoints: JobsCommand.Endpoints

    @Option(help: ArgumentHelp("RabbitMQ management API base URL. Env: BRIDGEBACK_MANAGEMENT_URL.", valueName: "url"))
    var management: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_MANAGEMENT_URL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "http://127.0.0.1:15672"

    @Option(help: "Virtual host of the fleet.")
    var vhost: String = "bridgeback"

    @Option(help: ArgumentHelp("Refresh every N seconds in place until interrupted.", valueName: "seconds"))
    var watch: Double?

    func validate() throws {
        if let watch {
            try checkSeconds(watch, "--watch", atMost: 86_400)
            guard watch >= 0.5 else { throw ValidationError("--watch must be at least 0.5 seconds") }
        }
    }

    func run() async throws {
        let client = try endpoints.client()
        let environment = ProcessInfo.processInfo.environment
        let broker = ManagementClient(
            base: management, vhost: vhost, user: environment["BRIDGEBACK_MANAGEMENT_USER"] ?? "bb-monitor",
            password: environment["BRIDGEBACK_MANAGEMENT_PASSWORD"] ?? "")
        repeat {
            let report = await FleetReport.collect(
                broker: broker, client: client, admission: endpoints.admission, coordinator: endpoints.coordinator)
            if endpoints.json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                let data = try encoder.encode(report.json)
                print(String(decoding: data, as: UTF8.self))
            } else {
                if watch != nil { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print(report.text)
            }
            guard let watch else {
                if report.worst >= .stalled { throw ExitCode(1) }
                return
            }
            try await Task.sleep(for: .milliseconds(Int64(watch * 1000)))
        } while true
    }
}

/// ok < degraded < stalled < unreachable, judged by `FleetRules` (as the dashboard judges).
typealias Verdict = FleetVerdict

/// One line of the report: what, its verdict, why, and the figures behind it.
struct StatusLine: Sendable {
    var section: String
    var name: String
    var verdict: Verdict
    var why: String
    var figures: [String: JSONValue] = [:]
}

/// The management API with basic auth (a `monitoring` user).
struct ManagementClient: Sendable {
    let base: String
    let vhost: String
    let user: String
    let password: String

    struct Failure: Error { var reason: String }

    func get(_ path: String) async -> Result<JSONValue, Failure> {
        let encoded = vhost.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? vhost
        guard let url = URL(string: base.trimmingTrailingSlash + path.replacingOccurrences(of: "{vhost}", with: encoded)) else {
            return .failure(Failure(reason: "'\(base)' is not a URL"))
        }
        var request = URLRequest(url: url, timeoutInterval: 5)
        request.setValue("Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let code = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard code == 200 else {
                let hint =
                    code == 401 ? " (set BRIDGEBACK_MANAGEMENT_USER/PASSWORD to a user with the monitoring tag, e.g. bb-monitor)" : ""
                return .failure(Failure(reason: "management API \(path) answered \(code)\(hint)"))
            }
            return .success(try JSONDecoder().decode(JSONValue.self, from: data))
        } catch {
            return .failure(Failure(reason: "management API at \(base) unreachable: \(error.localizedDescription)"))
        }
    }
}

/// Everything `bridgeback status` shows, gathered once.
struct FleetReport: Sendable {
    var lines: [StatusLine] = []
    var worst: Verdict { lines.map(\.verdict).max() ?? .ok }

    static func number(_ value: JSONValue?) -> Double {
        if case .number(let n)? = value { return n }
        return 0
    }

    static func collect(broker: ManagementClient, client: StatusClient, admission: String, coordinator: String) async -> FleetReport {
        var report = FleetReport()
        async let queuesAnswer = broker.get("/api/queues/{vhost}")
        async let consumersAnswer = broker.get("/api/consumers/{vhost}")
        async let channelsAnswer = broker.get("/api/vhosts/{vhost}/channels")
        async let connectionsAnswer = broker.get("/api/vhosts/{vhost}/connections")
        async let admissionHealth = client.get(admission, "/health")
        async let coordinatorHealth = client.get(coordinator, "/health")
        async let deliveries = client.get(coordinator, "/v1/deliveries", query: [URLQueryItem(name: "limit", value: "500")])
        let (queues, consumers, channels, connections) = await (queuesAnswer, consumersAnswer, channelsAnswer, connectionsAnswer)

        // Queues, workers and coordinators: parsed and judged as the dashboard does.
        let overview = BrokerOverview.parse(
            queues: (try? queues.get()) ?? .array([]), consumers: (try? consumers.get()) ?? .array([]), channels: try? channels.get(),
            connections: try? connections.get())
        switch queues {
        case .failure(let failure):
            report.lines.append(StatusLine(section: "queues", name: "broker", verdict: .unreachable, why: failure.reason))
        case .success:
            report.lines += overview.queues.map(queueLine)
        }
        switch consumers {
        case .failure(let failure):
            report.lines.append(StatusLine(section: "workers", name: "consumers", verdict: .unreachable, why: failure.reason))
        case .success:
            for worker in overview.workers {
                report.lines.append(
                    StatusLine(
                        section: "workers", name: worker.connection, verdict: .ok,
                        why: "pool \(worker.pool) on \(worker.host): \(worker.inFlight) of \(worker.slots) slots busy",
                        figures: [
                            "pool": .string(worker.pool), "host": .string(worker.host), "slots": .number(Double(worker.slots)),
                            "in_flight": .number(Double(worker.inFlight)),
                        ]))
            }
            let coordinators = FleetRules.coordinators(active: overview.activeCoordinators, standby: overview.standbyCoordinators)
            report.lines.append(
                StatusLine(
                    section: "coordinator", name: "active consumer", verdict: coordinators.verdict, why: coordinators.why,
                    figures: [
                        "active": .number(Double(overview.activeCoordinators)), "standby": .number(Double(overview.standbyCoordinators)),
                    ]))
        }

        // Admission's outbox.
        switch await admissionHealth {
        case .ok(let health):
            let backlog = number(health["outbox_backlog"])
            let oldest = number(health["outbox_oldest_unsent_age_s"])
            let outbox = FleetRules.outbox(
                backlog: Int(backlog), oldestAge: oldest, brokerConnected: health["broker"]?.stringValue == "connected")
            report.lines.append(
                StatusLine(
                    section: "admission", name: admission, verdict: outbox.verdict, why: outbox.why,
                    figures: ["outbox_backlog": .number(backlog), "outbox_oldest_age_s": .number(oldest)]))
        case .status(let code, let message):
            report.lines.append(StatusLine(section: "admission", name: admission, verdict: .unreachable, why: "\(code): \(message)"))
        case .unreachable(let reason):
            report.lines.append(StatusLine(section: "admission", name: admission, verdict: .unreachable, why: "unreachable: \(reason)"))
        }

        // Coordinator: health, then jobs of the last hour and what needs a person.
        switch await coordinatorHealth {
        case .ok(let health):
            let status = health["status"]?.stringValue ?? "?"
            report.lines.append(
                StatusLine(
                    section: "coordinator", name: coordinator, verdict: status == "ok" ? .ok : status == "degraded" ? .degraded : .stalled,
                    why: "ledger \(health["ledger"]?.stringValue ?? "?"), broker \(health["broker"]?.stringValue ?? "?"), "
                        + "\(Int(number(health["jobs_delivering"]))) delivering, \(Int(number(health["parts_waiting_retry"]))) parts waiting to retry"
                ))
        case .status(let code, let message):
            report.lines.append(StatusLine(section: "coordinator", name: coordinator, verdict: .unreachable, why: "\(code): \(message)"))
        case .unreachable(let reason):
            report.lines.append(StatusLine(section: "coordinator", name: coordinator, verdict: .unreachable, why: "unreachable: \(reason)"))
        }
        switch await deliveries {
        case .ok(let list):
            let hourAgo = Date().addingTimeInterval(-3600)
            var byState: [String: Int] = [:]
            var attention: [String] = []
            for job in list["jobs"]?.arrayValue ?? [] {
                let outcome = job["final_outcome"]?.stringValue
                let state = job["state"]?.stringValue ?? "?"
                if let created = job["created_at"]?.stringValue.flatMap(WireDate.parse), created >= hourAgo {
                    byState[outcome ?? state, default: 0] += 1
                }
                if FleetRules.needsPerson(finalOutcome: outcome, state: state) {
                    attention.append("\(job["job_id"]?.stringValue ?? "?") \(outcome ?? state)")
                }
            }
            let summary = byState.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            report.lines.append(
                StatusLine(
                    section: "jobs", name: "last hour", verdict: .ok, why: summary.isEmpty ? "no jobs" : summary,
                    figures: .init(uniqueKeysWithValues: byState.map { ($0.key, JSONValue.number(Double($0.value))) })))
            report.lines.append(
                StatusLine(
                    section: "deliveries", name: "need a person", verdict: attention.isEmpty ? .ok : .degraded,
                    why: attention.isEmpty
                        ? "none uncertain, failed or parked"
                        : "\(attention.count): " + attention.prefix(5).joined(separator: "; ") + (attention.count > 5 ? " …" : "")
                            + " (bridgeback jobs show <id>)",
                    figures: ["count": .number(Double(attention.count))]))
        case .status(let code, let message):
            report.lines.append(StatusLine(section: "jobs", name: "deliveries", verdict: .unreachable, why: "\(code): \(message)"))
        case .unreachable:
            break  // the health line already says the coordinator does not answer
        }
        return report
    }

    static func queueLine(_ queue: BrokerOverview.Queue) -> StatusLine {
        // Quorum queues (RabbitMQ 3.10) report no head-message age: say so rather than show nothing;
        // the coordinator's bridgeback_coordinator_oldest_awaiting_completion_seconds is the oldest job instead.
        let oldest: String
        if let age = queue.oldestMessageAge {
            oldest = "oldest \(Int(age)) s"
        } else if queue.ready == 0 {
            oldest = "no message waiting"
        } else if queue.type == "quorum" {
            oldest = "oldest message age not reported (quorum queue)"
        } else {
            oldest = "oldest message age not reported (no message timestamp)"
        }
        var figures: [String: JSONValue] = [
            "ready": .number(Double(queue.ready)), "unacked": .number(Double(queue.unacked)),
            "consumers": .number(Double(queue.consumers)), "publish_rate": .number(queue.publishRate),
            "deliver_rate": .number(queue.deliverRate), "ack_rate": .number(queue.ackRate),
            "oldest_message_age_s": queue.oldestMessageAge.map { .number($0) } ?? .null,
        ]
        if let type = queue.type { figures["type"] = .string(type) }
        return StatusLine(
            section: "queues", name: queue.name, verdict: queue.verdict,
            why: "\(queue.why) · ready \(queue.ready), unacked \(queue.unacked), consumers \(queue.consumers), "
                + "in \(FleetRules.rate(queue.publishRate)) out \(FleetRules.rate(queue.deliverRate)) · \(oldest)",
            figures: figures)
    }

    var text: String {
        var out = ["bridgeback status · \(WireDate.format(Date())) · overall: \(worst.rawValue)"]
        for section in ["queues", "workers", "coordinator", "admission", "jobs", "deliveries"] {
            let inSection = lines.filter { $0.section == section }
            if !inSection.isEmpty { out.append("\n\(section)") }
            for line in inSection {
                out.append("  \(line.verdict.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(line.name): \(line.why)")
            }
        }
        return out.joined(separator: "\n")
    }

    var json: JSONValue {
        .object([
            "overall": .string(worst.rawValue),
            "at": .string(WireDate.format(Date())),
            "checks": .array(
                lines.map { line in
                    .object([
                        "section": .string(line.section), "name": .string(line.name), "verdict": .string(line.verdict.rawValue),
                        "why": .string(line.why), "figures": .object(line.figures),
                    ])
                }),
        ])
    }
}
