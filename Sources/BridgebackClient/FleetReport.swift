import BridgebackCoordinator
public import BridgebackCore
public import Foundation

/// ok < degraded < stalled < unreachable, judged by `FleetRules` (as the dashboard judges).
public typealias Verdict = FleetVerdict

/// One line of the report: what, its verdict, why, and the figures behind it.
public struct StatusLine: Sendable, Hashable {
    public var section: String
    public var name: String
    public var verdict: Verdict
    public var why: String
    public var figures: [String: JSONValue] = [:]

    public init(section: String, name: String, verdict: Verdict, why: String, figures: [String: JSONValue] = [:]) {
        self.section = section
        self.name = name
        self.verdict = verdict
        self.why = why
        self.figures = figures
    }
}

/// Everything `bridgeback status` shows, gathered once: each piece of the fleet with a verdict
/// and the reason. `collect` asks the services; `assemble` judges their answers (no I/O), with the
/// dashboard's `BrokerOverview.parse` and `FleetRules`.
public struct FleetReport: Sendable {
    public var lines: [StatusLine] = []
    public var worst: Verdict { lines.map(\.verdict).max() ?? .ok }

    public init(lines: [StatusLine] = []) { self.lines = lines }

    /// What each service answered (or why it did not): the management API's JSON, and the
    /// services' typed answers.
    public struct Answers: Sendable {
        public var queues: Result<JSONValue, ManagementClient.Failure>
        public var consumers: Result<JSONValue, ManagementClient.Failure>
        public var channels: Result<JSONValue, ManagementClient.Failure>
        public var connections: Result<JSONValue, ManagementClient.Failure>
        public var admissionHealth: APIClient.Answer<AdmissionHealth>
        public var coordinatorHealth: APIClient.Answer<CoordinatorHealth>
        public var deliveries: APIClient.Answer<DeliveryList>

        public init(
            queues: Result<JSONValue, ManagementClient.Failure>, consumers: Result<JSONValue, ManagementClient.Failure>,
            channels: Result<JSONValue, ManagementClient.Failure>, connections: Result<JSONValue, ManagementClient.Failure>,
            admissionHealth: APIClient.Answer<AdmissionHealth>, coordinatorHealth: APIClient.Answer<CoordinatorHealth>,
            deliveries: APIClient.Answer<DeliveryList>
        ) {
            self.queues = queues
            self.consumers = consumers
            self.channels = channels
            self.connections = connections
            self.admissionHealth = admissionHealth
            self.coordinatorHealth = coordinatorHealth
            self.deliveries = deliveries
        }
    }

    /// Asks the management API, admission's `/health` and the coordinator's `/health` and
    /// `/v1/deliveries`, all at once, and judges the answers.
    public static func collect(broker: ManagementClient, client: APIClient, admission: String, coordinator: String) async -> FleetReport {
        async let queues = broker.get("/api/queues/{vhost}")
        async let consumers = broker.get("/api/consumers/{vhost}")
        async let channels = broker.get("/api/vhosts/{vhost}/channels")
        async let connections = broker.get("/api/vhosts/{vhost}/connections")
        async let admissionHealth = client.get(admission, "/health", as: AdmissionHealth.self)
        async let coordinatorHealth = client.get(coordinator, "/health", as: CoordinatorHealth.self)
        async let deliveries = client.get(
            coordinator, "/v1/deliveries", query: [URLQueryItem(name: "limit", value: "500")], as: DeliveryList.self)
        let answers = await Answers(
            queues: queues, consumers: consumers, channels: channels, connections: connections, admissionHealth: admissionHealth,
            coordinatorHealth: coordinatorHealth, deliveries: deliveries)
        return assemble(answers, admission: admission, coordinator: coordinator, now: Date())
    }

    /// The report from the services' answers: a pure function of them and `now` (jobs of the last hour).
    public static func assemble(_ answers: Answers, admission: String, coordinator: String, now: Date) -> FleetReport {
        var report = FleetReport()

        // Queues, workers and coordinators: parsed and judged as the dashboard does.
        let overview = BrokerOverview.parse(
            queues: (try? answers.queues.get()) ?? .array([]), consumers: (try? answers.consumers.get()) ?? .array([]),
            channels: try? answers.channels.get(), connections: try? answers.connections.get())
        switch answers.queues {
        case .failure(let failure):
            report.lines.append(StatusLine(section: "queues", name: "broker", verdict: .unreachable, why: failure.reason))
        case .success:
            report.lines += overview.queues.map(queueLine)
        }
        switch answers.consumers {
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
        switch answers.admissionHealth {
        case .ok(let health):
            let backlog = health.outboxBacklog ?? 0
            let oldest = health.outboxOldestUnsentAgeS ?? 0
            let outbox = FleetRules.outbox(backlog: backlog, oldestAge: oldest, brokerConnected: health.broker == "connected")
            report.lines.append(
                StatusLine(
                    section: "admission", name: admission, verdict: outbox.verdict, why: outbox.why,
                    figures: ["outbox_backlog": .number(Double(backlog)), "outbox_oldest_age_s": .number(oldest)]))
        case .status(let code, let message):
            report.lines.append(StatusLine(section: "admission", name: admission, verdict: .unreachable, why: "\(code): \(message)"))
        case .unreachable(let reason):
            report.lines.append(StatusLine(section: "admission", name: admission, verdict: .unreachable, why: "unreachable: \(reason)"))
        }

        // Coordinator: health, then jobs of the last hour and what needs a person.
        switch answers.coordinatorHealth {
        case .ok(let health):
            let status = health.status
            report.lines.append(
                StatusLine(
                    section: "coordinator", name: coordinator, verdict: status == "ok" ? .ok : status == "degraded" ? .degraded : .stalled,
                    why: "ledger \(health.ledger), broker \(health.broker ?? "?"), "
                        + "\(health.jobsDelivering ?? 0) delivering, \(health.partsWaitingRetry ?? 0) parts waiting to retry"))
        case .status(let code, let message):
            report.lines.append(StatusLine(section: "coordinator", name: coordinator, verdict: .unreachable, why: "\(code): \(message)"))
        case .unreachable(let reason):
            report.lines.append(StatusLine(section: "coordinator", name: coordinator, verdict: .unreachable, why: "unreachable: \(reason)"))
        }
        switch answers.deliveries {
        case .ok(let list):
            let hourAgo = now.addingTimeInterval(-3600)
            var byState: [String: Int] = [:]
            var attention: [String] = []
            for job in list.jobs {
                let outcome = job.finalOutcome
                if let created = job.createdAt.flatMap(WireDate.parse), created >= hourAgo {
                    byState[outcome ?? job.state, default: 0] += 1
                }
                if FleetRules.needsPerson(finalOutcome: outcome, state: job.state) {
                    attention.append("\(job.jobID) \(outcome ?? job.state)")
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

    /// The report for people, one section after another.
    public func text(at now: Date = Date()) -> String {
        var out = ["bridgeback status · \(WireDate.format(now)) · overall: \(worst.rawValue)"]
        for section in ["queues", "workers", "coordinator", "admission", "jobs", "deliveries"] {
            let inSection = lines.filter { $0.section == section }
            if !inSection.isEmpty { out.append("\n\(section)") }
            for line in inSection {
                out.append("  \(line.verdict.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(line.name): \(line.why)")
            }
        }
        return out.joined(separator: "\n")
    }

    /// The report for programs (`status --json`).
    public func json(at now: Date = Date()) -> JSONValue {
        .object([
            "overall": .string(worst.rawValue),
            "at": .string(WireDate.format(now)),
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
