import BridgebackAMQP
import BridgebackCore
import Foundation
import Testing

/// Issue #10 items 2 and 3 on the real fleet: a completion forged with the workers' own broker
/// credentials for a live job is never delivered, and the job's real completion still is,
/// exactly once — proven at the webhook receiver.
extension BrokerBacked {
    @Suite(.serialized)
    struct TrustIntegrationTests {
        @Test func aCompletionForgedWithWorkerCredentialsIsNeverDeliveredAndTheRealOneIsDeliveredOnce() async throws {
            try await withFleet("capability") { fleet in
                try await fleet.startAll(workers: 1)
                let admin = try await Broker.connect("capability-check")
                let parkedBefore = try await admin.inspectQueue("bb.parked").messageCount
                let reply = try await fleet.submit(
                    fleet.detach("sleep", params: ["seconds": 4], final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                // Live: the coordinator holds its contract and the worker runs it.
                try await eventually("the coordinator holds the contract", timeout: .seconds(30)) {
                    (try? fleet.ledgerJobs()[id]?.state) == "awaiting_completion"
                }

                // The attacker holds worker credentials (the broker validates user_id = bb-worker) and
                // knows the job id, but not the job's capability: none, a guess, and an empty one.
                let forger = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"), connectionName: "forger"))
                let publisher = try await forger.makePublisher()
                for capability in [nil, "bbc_" + String(repeating: "A", count: 43), ""] as [String?] {
                    let forged = Completion(
                        jobID: try JobID(wireString: id), worker: "forger", startedAt: Date(), finishedAt: Date(),
                        outcome: .succeeded(result: "FORGED RESULT"), capability: capability)
                    try await publisher.publish(
                        OutboundMessage(
                            exchange: "bb.completions", routingKey: "completion", body: Array(try WireCodec.encode(forged)),
                            properties: MessageProperties(
                                contentType: "application/json", type: "bridgeback.completion.v1", userID: "bb-worker")))
                }
                await forger.close()
                let coordinator = try #require(fleet.process("coordinator"))
                try await eventually("the coordinator rejects the three forgeries", timeout: .seconds(20)) {
                    coordinator.ownOutput.components(separatedBy: "rejected a completion without the job's capability").count - 1 >= 3
                }
                #expect(Self.notices(fleet, job: id).isEmpty, "the job is still running: nothing may have been delivered yet")
                #expect(try fleet.ledgerJobs()[id]?.state == "awaiting_completion")

                try await eventually("the real result is delivered", timeout: .seconds(60)) { !Self.notices(fleet, job: id).isEmpty }
                try await Task.sleep(for: .seconds(1))
                let notices = Self.notices(fleet, job: id)
                #expect(notices.count == 1)
                #expect(notices.first?["text"] as? String != "FORGED RESULT")
                #expect(
                    !fleet.received().contains { ($0.notice["text"] as? String)?.contains("FORGED") == true },
                    "no forged text reached the receiver")
                let job = try #require(try fleet.ledgerJobs()[id])
                #expect(job.finalOutcome == "delivered" && job.duplicates == 0)
                // Parked for people, not dropped.
                try await eventually("the forgeries wait in bb.parked", timeout: .seconds(10)) {
                    try await admin.inspectQueue("bb.parked").messageCount >= parkedBefore + 3
                }
                await admin.close()
            }
        }

        static func notices(_ fleet: Fleet, job: String) -> [[String: Any]] {
            fleet.received().filter { !$0.duplicate && ($0.notice["job_id"] as? String) == job }.map(\.notice)
        }
    }
}
