import Foundation

/// How one piece of the fleet is doing, from best to worst: what `bridgeback status` prints
/// beside every line and what colours the dashboard's queues and cards.
public enum FleetVerdict: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case ok, degraded, stalled, unreachable

    public static func < (a: FleetVerdict, b: FleetVerdict) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A verdict and its reason, in words a person on call can act on.
public struct FleetJudgement: Sendable, Hashable {
    public var verdict: FleetVerdict
    public var why: String

    public init(_ verdict: FleetVerdict, _ why: String) {
        self.verdict = verdict
        self.why = why
    }
}

/// The rules that turn the broker's and the services' figures into verdicts, in one place:
/// `bridgeback status` and the dashboard both judge with these, so the terminal and the browser
/// never disagree about the same queue.
public enum FleetRules {
    /// Ready messages above which a consumed queue whose acks lag its publishes is a growing backlog.
    public static let backlogThreshold = 100
    /// Age in seconds of admission's oldest unsent outbox row past which it is degraded, and stalled.
    public static let outboxDegradedAge: Double = 30
    public static let outboxStalledAge: Double = 300

    /// Whether Bridgeback expects a consumer on `queue`: the job queues and the coordinator's queues.
    public static func isConsumed(_ queue: String) -> Bool {
        queue.hasPrefix("bb.jobs.") || queue.hasPrefix("bb.coordinator.")
    }

    /// One `bb.*` queue, from the management API's figures (rates in messages per second).
    public static func queue(name: String, ready: Int, unacked: Int, consumers: Int, publishRate: Double, ackRate: Double)
        -> FleetJudgement
    {
        let consumed = isConsumed(name)
        if consumed && consumers == 0 {
            return ready > 0
                ? FleetJudgement(.stalled, "\(ready) waiting and nobody consumes this queue") : FleetJudgement(.degraded, "no consumer")
        }
        if name == "bb.parked" && ready > 0 {
            return FleetJudgement(.degraded, "\(ready) rejected messages for a person to inspect")
        }
        if consumed && ready > backlogThreshold && ackRate < publishRate {
            return FleetJudgement(.degraded, "backlog of \(ready) growing (publish \(rate(publishRate)) > ack \(rate(ackRate)))")
        }
        return FleetJudgement(.ok, ready == 0 && unacked == 0 ? "empty" : "flowing")
    }

    /// The coordinators consuming `bb.coordinator.completions` (a single-active-consumer queue):
    /// one active delivers, the others wait as standbys.
    public static func coordinators(active: Int, standby: Int) -> FleetJudgement {
        switch active {
        case 0:
            return FleetJudgement(.stalled, "no coordinator consumes bb.coordinator.completions: no final delivery happens")
        case 1:
            return standby > 0
                ? FleetJudgement(.ok, "1 active, \(standby) standby waiting")
                : FleetJudgement(.degraded, "1 active; no standby (a crash stops delivery until restart)")
        default:
            return FleetJudgement(
                .degraded,
                "\(active) active consumers: bb.coordinator.completions is not single-active-consumer (`bridgeback topology check`)")
        }
    }

    /// Admission's outbox, from its `/health`: rows admitted and not yet confirmed by the broker.
    public static func outbox(backlog: Int, oldestAge: Double, brokerConnected: Bool) -> FleetJudgement {
        let broker = brokerConnected ? "connected" : "disconnected"
        let summary =
            backlog == 0 ? "outbox empty; broker \(broker)" : "\(backlog) rows unsent, oldest \(Int(oldestAge)) s; broker \(broker)"
        if oldestAge > outboxStalledAge { return FleetJudgement(.stalled, summary) }
        if oldestAge > outboxDegradedAge || (backlog > 0 && !brokerConnected) { return FleetJudgement(.degraded, summary) }
        return FleetJudgement(.ok, summary)
    }

    /// Whether a job's delivery needs a person: it ended `uncertain` or `failed`, or its completion
    /// is parked waiting for a contract.
    public static func needsPerson(finalOutcome: String?, state: String) -> Bool {
        finalOutcome == "uncertain" || finalOutcome == "failed" || state == "completion_parked"
    }

    /// "2.5/s".
    public static func rate(_ value: Double) -> String { String(format: "%.1f/s", value) }
}
