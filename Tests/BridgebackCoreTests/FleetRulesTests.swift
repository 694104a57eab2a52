import BridgebackCore
import Testing

/// The verdict rules `bridgeback status` and the dashboard share (docs/operations.md, "`bridgeback status`").
@Suite("Fleet verdict rules")
struct FleetRulesTests {
    func queue(_ name: String, ready: Int = 0, unacked: Int = 0, consumers: Int = 1, publish: Double = 0, ack: Double = 0)
        -> FleetJudgement
    {
        FleetRules.queue(name: name, ready: ready, unacked: unacked, consumers: consumers, publishRate: publish, ackRate: ack)
    }

    @Test("verdicts order ok < degraded < stalled < unreachable")
    func order() {
        #expect(FleetVerdict.allCases.sorted() == [.ok, .degraded, .stalled, .unreachable])
        #expect([FleetVerdict.degraded, .ok, .unreachable, .stalled].max() == .unreachable)
    }

    @Test("a job or coordinator queue without a consumer: stalled when messages wait, degraded when empty")
    func noConsumer() {
        for name in ["bb.jobs.default", "bb.jobs.gpu", "bb.coordinator.completions", "bb.coordinator.contracts"] {
            #expect(queue(name, ready: 3, consumers: 0) == FleetJudgement(.stalled, "3 waiting and nobody consumes this queue"))
            #expect(queue(name, ready: 0, unacked: 0, consumers: 0) == FleetJudgement(.degraded, "no consumer"))
        }
        // Queues nobody is meant to consume are not judged by consumers.
        #expect(queue("bb.progress", ready: 5, consumers: 0).verdict == .ok)
        #expect(queue("bb.watch.dashboard.x", ready: 5, consumers: 0).verdict == .ok)
    }

    @Test("more than 100 waiting and acks slower than publishes is a growing backlog; at 100, or draining, it is not")
    func backlog() {
        let growing = queue("bb.jobs.default", ready: 101, consumers: 2, publish: 5, ack: 2)
        #expect(growing.verdict == .degraded)
        #expect(growing.why == "backlog of 101 growing (publish 5.0/s > ack 2.0/s)")
        #expect(queue("bb.jobs.default", ready: 100, consumers: 2, publish: 5, ack: 2).verdict == .ok)
        #expect(queue("bb.jobs.default", ready: 500, consumers: 2, publish: 2, ack: 5) == FleetJudgement(.ok, "flowing"))
        #expect(queue("bb.jobs.default", ready: 500, consumers: 2, publish: 3, ack: 3).verdict == .ok)
        #expect(queue("bb.coordinator.completions", ready: 101, consumers: 1, publish: 1, ack: 0).verdict == .degraded)
    }

    @Test("anything in bb.parked is degraded; empty queues say so")
    func parkedAndEmpty() {
        #expect(queue("bb.parked", ready: 2, consumers: 0) == FleetJudgement(.degraded, "2 rejected messages for a person to inspect"))
        #expect(queue("bb.parked", ready: 0, consumers: 0) == FleetJudgement(.ok, "empty"))
        #expect(queue("bb.jobs.default", ready: 0, unacked: 0) == FleetJudgement(.ok, "empty"))
        #expect(queue("bb.jobs.default", ready: 0, unacked: 1) == FleetJudgement(.ok, "flowing"))
    }

    @Test("coordinators: none active is stalled, one without a standby degraded, one with a standby ok, two active degraded")
    func coordinators() {
        #expect(FleetRules.coordinators(active: 0, standby: 0).verdict == .stalled)
        #expect(FleetRules.coordinators(active: 0, standby: 2).verdict == .stalled, "standbys that never take over deliver nothing")
        #expect(
            FleetRules.coordinators(active: 1, standby: 0)
                == FleetJudgement(.degraded, "1 active; no standby (a crash stops delivery until restart)"))
        #expect(FleetRules.coordinators(active: 1, standby: 1) == FleetJudgement(.ok, "1 active, 1 standby waiting"))
        let two = FleetRules.coordinators(active: 2, standby: 0)
        #expect(two.verdict == .degraded && two.why.contains("not single-active-consumer"))
    }

    @Test("outbox: older than 300 s stalled; older than 30 s, or rows waiting while the broker is away, degraded")
    func outbox() {
        #expect(FleetRules.outbox(backlog: 0, oldestAge: 0, brokerConnected: true) == FleetJudgement(.ok, "outbox empty; broker connected"))
        #expect(FleetRules.outbox(backlog: 0, oldestAge: 0, brokerConnected: false).verdict == .ok, "nothing waits")
        #expect(FleetRules.outbox(backlog: 3, oldestAge: 30, brokerConnected: true).verdict == .ok)
        #expect(FleetRules.outbox(backlog: 3, oldestAge: 31, brokerConnected: true).verdict == .degraded)
        #expect(FleetRules.outbox(backlog: 3, oldestAge: 1, brokerConnected: false).verdict == .degraded)
        #expect(FleetRules.outbox(backlog: 3, oldestAge: 300, brokerConnected: true).verdict == .degraded)
        let stalled = FleetRules.outbox(backlog: 3, oldestAge: 301, brokerConnected: true)
        #expect(stalled == FleetJudgement(.stalled, "3 rows unsent, oldest 301 s; broker connected"))
    }

    @Test("a person is needed for uncertain and failed deliveries and parked completions, not for the rest")
    func needsPerson() {
        #expect(FleetRules.needsPerson(finalOutcome: "uncertain", state: "finished"))
        #expect(FleetRules.needsPerson(finalOutcome: "failed", state: "finished"))
        #expect(FleetRules.needsPerson(finalOutcome: nil, state: "completion_parked"))
        for outcome in ["delivered", "cancelled", "lost", nil] {
            #expect(!FleetRules.needsPerson(finalOutcome: outcome, state: "finished"))
        }
        #expect(!FleetRules.needsPerson(finalOutcome: nil, state: "awaiting_completion"))
    }
}
