import BridgebackAMQP
import BridgebackCore
import Foundation
import Testing

/// Ledger retention on the real fleet: a job the coordinator pruned does not get a second final
/// notice when its contract and completion come over the broker again (an outbox replay, a worker
/// that ran it again), proven at the webhook receiver; the two messages wait in `bb.parked`.
extension BrokerBacked {
    @Suite(.serialized)
    struct RetentionIntegrationTests {
        @Test func aPrunedJobIsNotDeliveredAgainWhenItsContractAndCompletionComeBack() async throws {
            try await withFleet("retention") { fleet in
                // Keep a finished job ~1.7 s (0.00002 days), look every half second.
                fleet.extraArguments["coordinator"] = ["--retention-days", "0.00002", "--prune-interval", "0.5"]
                // Admission prunes its store on the same terms: the published job, its outbox rows, its request line.
                fleet.extraArguments["admission"] = ["--retention-days", "0.00002", "--prune-interval", "0.5"]
                let admin = try await Broker.connect("retention-check")
                // A copy of every contract admission publishes, to send this job's again later.
                let copies = Broker.uniqueName("retention-contracts")
                try await admin.declare(QueueDeclaration(name: copies, durable: false, exclusive: true, autoDelete: true))
                try await admin.bind(BindingDeclaration(queue: copies, exchange: "bb.contracts", routingKey: "contract"))
                let contracts = try await admin.consume(queue: copies, prefetch: 8)
                try await fleet.startAll(workers: 0)

                let reply = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "once"], final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                let contract = try #require(try await take(1, from: contracts, acking: true).first)
                #expect(String(decoding: contract.body, as: UTF8.self).contains(id))

                // The worker's part, played by the test with the worker's credentials and the job's capability.
                let worker = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"), connectionName: "retention-worker"))
                let jobs = try await worker.consume(queue: "bb.jobs.\(fleet.pool)", prefetch: 1)
                let job = try #require(try await take(1, from: jobs).first)
                let message = try WireCodec.decode(JobMessage.self, from: Data(job.body))
                let completion = OutboundMessage(
                    exchange: "bb.completions", routingKey: "completion",
                    body: Array(
                        try WireCodec.encode(
                            Completion(
                                jobID: message.jobID, worker: "retention-worker", startedAt: Date(), finishedAt: Date(),
                                outcome: .succeeded(result: "delivered once"), capability: message.completionCapability))),
                    properties: MessageProperties(contentType: "application/json", type: "bridgeback.completion.v1", userID: "bb-worker"))
                let workerPublisher = try await worker.makePublisher()
                try await workerPublisher.publish(completion)
                job.ack()

                try await eventually("the result is delivered", timeout: .seconds(60)) { !Self.notices(fleet, job: id).isEmpty }
                try await eventually("the coordinator prunes the finished job", timeout: .seconds(30)) {
                    try fleet.ledgerJobs()[id] == nil
                }
                let parkedBefore = try await admin.inspectQueue("bb.parked").messageCount

                // The same contract again, as admission's outbox would after a replay, and the same completion.
                let outbox = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_ADMISSION_AMQP_URL"), connectionName: "retention-admission"))
                try await outbox.makePublisher().publish(
                    OutboundMessage(
                        exchange: "bb.contracts", routingKey: "contract", body: contract.body,
                        properties: MessageProperties(contentType: "application/json", persistent: true, messageID: id)))
                try await workerPublisher.publish(completion)
                await outbox.close()
                await worker.close()

                let coordinator = try #require(fleet.process("coordinator"))
                func refusals() -> Int {
                    coordinator.ownOutput.components(separatedBy: "refused a message about a job older than the ledger's retention").count
                        - 1
                }
                try await eventually("the coordinator refuses both, or delivers again", timeout: .seconds(20)) {
                    refusals() >= 2 || Self.requests(fleet, job: id) > 1
                }
                // Long enough for a second notice to land if one was sent (the first took well under this).
                try await Task.sleep(for: .seconds(2))
                let notices = Self.notices(fleet, job: id)
                #expect(notices.count == 1, "\(notices)")
                #expect(notices.first?["text"] as? String == "delivered once")
                // Counted with the requests the receiver took as repeats of a webhook id it had seen.
                #expect(Self.requests(fleet, job: id) == 1, "no repeat reached the receiver")
                #expect(refusals() == 2)
                #expect(try fleet.ledgerJobs()[id] == nil, "the refused messages did not start the job again")
                try await eventually("both wait in bb.parked", timeout: .seconds(10)) {
                    try await admin.inspectQueue("bb.parked").messageCount >= parkedBefore + 2
                }
                // What an operator sees: the log line, the counters, and no job at the status API.
                #expect(coordinator.ownOutput.contains("pruned jobs the ledger is done with"))
                let metrics = try await Scrape.fetch("http://127.0.0.1:\(fleet.coordinatorPort)/metrics", token: fleet.token)
                #expect((metrics.value("bridgeback_coordinator_pruned_jobs_total", [:]) ?? 0) >= 1)
                for queue in ["contracts", "completions"] {
                    #expect(
                        metrics.value("bridgeback_coordinator_rejected_total", ["queue": queue, "reason": "older_than_retention"]) == 1)
                }
                let status = try await fleet.call("GET", "/v1/jobs/\(id)/delivery", body: nil, as: "fleet", port: fleet.coordinatorPort)
                #expect(status.status == 404, "\(status.raw)")
                try await eventually("admission prunes the published job", timeout: .seconds(30)) {
                    try await fleet.get("/v1/jobs/\(id)").status == 404
                }
                let admission = try #require(fleet.process("admission"))
                #expect(admission.ownOutput.contains("pruned admission records"))
                let admissionMetrics = try await Scrape.fetch("http://127.0.0.1:\(fleet.admissionPort)/metrics", token: fleet.token)
                #expect((admissionMetrics.value("bridgeback_admission_pruned_total", ["kind": "jobs"]) ?? 0) >= 1)
                #expect((admissionMetrics.value("bridgeback_admission_pruned_total", ["kind": "requests"]) ?? 0) >= 1)
                await admin.close()
            }
        }

        /// Every verified request the receiver got for `job`, repeats included.
        static func requests(_ fleet: Fleet, job: String) -> Int {
            fleet.received().filter { ($0.notice["job_id"] as? String) == job }.count
        }

        static func notices(_ fleet: Fleet, job: String) -> [[String: Any]] {
            fleet.received().filter { !$0.duplicate && ($0.notice["job_id"] as? String) == job }.map(\.notice)
        }
    }
}
