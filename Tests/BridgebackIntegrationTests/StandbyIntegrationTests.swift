import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Two coordinators on one ledger and one broker: exactly one delivers at a time.
extension BrokerBacked {
    @Suite(.serialized)
    struct StandbyIntegrationTests {
        @Test func aStandbyCoordinatorDeliversNothingUntilTheActiveOneIsKilledThenEveryJobLandsExactlyOnce() async throws {
            try await withFleet("standby") { fleet in
                // A slow receiver keeps sends in flight, so the kill lands in the middle of some.
                try await fleet.startAll(workers: 2, receiverDelay: 100)
                try await fleet.startCoordinator(name: "standby", ready: "coordinator standby")
                let standby = try #require(fleet.process("standby"))
                let active = try #require(fleet.process("coordinator"))
                let ids = try await fleet.submitAll(
                    (0..<120).map { i in fleet.detach("echo", params: ["text": "n=\(i)"], final: "hooks:\(fleet.parent)", mode: "direct") })
                try await eventually("some deliveries landed", timeout: .seconds(120)) { fleet.received().count >= 20 }
                // While both run, only the lock holder delivers: the standby consumed nothing, and
                // no webhook-id reached the receiver twice.
                #expect(!standby.ownOutput.contains("coordinator consuming"), "the standby consumed while the active one ran")
                #expect(fleet.received().filter(\.duplicate).isEmpty, "a webhook-id arrived twice with both coordinators up")
                // The standby is held while the ledger is read, or it may take over first and
                // resolve an interrupted send (to `retry_wait`) before the read sees `sending`.
                standby.kill(SIGSTOP)
                active.kill(SIGKILL)
                active.waitForExit()
                let inFlightAtKill = Set(try fleet.ledgerParts().filter { $0.state == "sending" }.map(\.deliveryID))
                standby.kill(SIGCONT)
                try await standby.waitForLog("coordinator active")
                try await standby.waitForLog("coordinator consuming")

                try await eventually("every job finished in the ledger", timeout: .seconds(300)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                try await Task.sleep(for: .milliseconds(500))
                let jobs = try fleet.ledgerJobs()
                let received = fleet.received()
                for (i, id) in ids.enumerated() {
                    // No gap, no duplicate: one verified notice per job at the receiver.
                    let notices = received.filter { !$0.duplicate && ($0.notice["job_id"] as? String) == id }
                    #expect(notices.count == 1, "job \(i): \(notices.count) deliveries")
                    #expect(jobs[id]?.finalOutcome == "delivered", "job \(i): \(jobs[id]?.finalOutcome ?? "nil")")
                }
                // A webhook-id seen twice is only ever a send the kill interrupted, re-sent by the
                // survivor with the same id (the receiver deduplicates it): never a second deliverer.
                let repeated = Set(received.filter(\.duplicate).map(\.id))
                #expect(
                    repeated.isSubset(of: inFlightAtKill), "repeated ids not in flight at the kill: \(repeated.subtracting(inFlightAtKill))"
                )
                print("standby take-over: \(inFlightAtKill.count) sends in flight at the kill, \(repeated.count) re-sent with the same id")
            }
        }
    }
}
