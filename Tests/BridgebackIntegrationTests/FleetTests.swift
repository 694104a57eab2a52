import BridgebackAMQP
import BridgebackCore
import Foundation
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Runs `body` against a fresh fleet and always tears it down; a failure carries the logs.
func withFleet(_ name: String, brokerURLs: [String: String] = [:], _ body: (Fleet) async throws -> Void) async throws {
    let fleet = try Fleet(name, brokerURLs: brokerURLs)
    do {
        try await body(fleet)
    } catch {
        let logs = fleet.logs()
        await fleet.tearDown()
        throw TestFailure("\(error)\n\(logs)")
    }
    await fleet.tearDown()
}

/// The whole fleet as real processes against the real broker and a real HTTP receiver:
/// what issue #3 says Bridgeback must show.
extension BrokerBacked {
    @Suite(.serialized)
    struct FleetTests {
        /// Notices for `job` among the receiver's verified deliveries (duplicates excluded).
        static func webhookNotices(_ fleet: Fleet, job: String) -> [[String: Any]] {
            fleet.received().filter { !$0.duplicate && ($0.notice["job_id"] as? String) == job }.map(\.notice)
        }

        @Test func aThousandJobsThroughTwoWorkersAreEachDeliveredOnceWhereTheirContractSaid() async throws {
            try await withFleet("thousand") { fleet in
                try await fleet.startAll(workers: 2)
                let inbox = try await fleet.inboxCollector()
                // Four shapes of contract, interleaved: webhook direct, parent inbox, file direct, suppressed.
                let shapes: [(final: String, mode: String)] = [
                    ("hooks:\(fleet.parent)", "direct"), ("cli:\(fleet.parent)", "parent"),
                    ("file:\(fleet.parent)", "direct"), ("cli:\(fleet.parent)", "suppressed"),
                ]
                let bodies = (0..<1000).map { i in
                    fleet.detach("echo", params: ["text": "n=\(i)"], final: shapes[i % 4].final, mode: shapes[i % 4].mode)
                }
                let ids = try await fleet.submitAll(bodies)
                #expect(Set(ids).count == 1000)

                try await eventually("all 1,000 jobs finish in the ledger", timeout: .seconds(600)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                try await Task.sleep(for: .seconds(1))  // anything extra would show up now

                let webhook = fleet.received()
                let inboxNotices = inbox.received
                let file = fleet.fileResults()
                let jobs = try fleet.ledgerJobs()
                await inbox.close()
                #expect(webhook.filter(\.duplicate).isEmpty, "no redelivery was needed, so the receiver saw no repeat")
                for (i, id) in ids.enumerated() {
                    let shape = shapes[i % 4]
                    let atWebhook = webhook.filter { ($0.notice["job_id"] as? String) == id }.map(\.notice)
                    let atInbox = inboxNotices.filter { ($0.notice["job_id"] as? String) == id }.map(\.notice)
                    let inFile = file.filter { ($0["job_id"] as? String) == id }
                    let counts = (webhook: atWebhook.count, inbox: atInbox.count, file: inFile.count)
                    let all = atWebhook + atInbox + inFile
                    switch i % 4 {
                    case 0: #expect(counts == (1, 0, 0), "job \(i) (\(id)): \(counts)")
                    case 1: #expect(counts == (0, 1, 0), "job \(i) (\(id)): \(counts)")
                    case 2: #expect(counts == (0, 0, 1), "job \(i) (\(id)): \(counts)")
                    default:
                        #expect(counts == (0, 0, 0), "suppressed job \(i) (\(id)) reached a surface: \(counts)")
                        #expect(jobs[id]?.finalOutcome == "suppressed")
                    }
                    for notice in all {
                        #expect(notice["final_surface"] as? String == shape.final)
                        #expect(notice["delivery_mode"] as? String == shape.mode)
                        #expect(notice["kind"] as? String == "result")
                        #expect(
                            (notice["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == "n=\(i)",
                            "job \(i) got another job's result")
                    }
                }
            }
        }

        @Test func aWorkerKilledMidRunHasItsJobsRedeliveredAndFinishedOnce() async throws {
            try await withFleet("killworker") { fleet in
                try await fleet.startAll(workers: 2)
                let bodies = (0..<24).map { _ in
                    fleet.detach("sleep", params: ["seconds": 2], final: "hooks:\(fleet.parent)", mode: "direct")
                }
                let ids = try await fleet.submitAll(bodies)
                let victim = try #require(fleet.process("worker1"))
                try await victim.waitForLog("job started")
                victim.kill(SIGKILL)
                victim.waitForExit()

                try await eventually("every job delivered", timeout: .seconds(180)) {
                    Set(fleet.received().compactMap { $0.notice["job_id"] as? String }).isSuperset(of: ids)
                }
                try await Task.sleep(for: .seconds(1))
                for id in ids {
                    #expect(Self.webhookNotices(fleet, job: id).count == 1, "\(id)")
                    #expect(Self.webhookNotices(fleet, job: id).first?["kind"] as? String == "result")
                }
                // The killed worker's jobs ran again on the survivor: their second attempt is logged there.
                #expect(fleet.process("worker2")?.output.contains("attempt=2") == true, "no job was redelivered after the kill")
            }
        }

        @Test func aCoordinatorKilledMidRunAndRestartedLosesNothingAndDuplicatesNothing() async throws {
            try await withFleet("killcoord") { fleet in
                // A slow receiver keeps sends in flight, so the kill lands in the middle of some.
                try await fleet.startAll(workers: 2, receiverDelay: 150)
                let bodies = (0..<160).map { i in
                    fleet.detach(
                        "echo", params: ["text": "n=\(i)"], final: i % 2 == 0 ? "hooks:\(fleet.parent)" : "file:\(fleet.parent)",
                        mode: "direct")
                }
                let ids = try await fleet.submitAll(bodies)
                try await eventually("some deliveries landed", timeout: .seconds(120)) { fleet.received().count >= 15 }
                let coordinator = try #require(fleet.process("coordinator"))
                coordinator.kill(SIGKILL)
                coordinator.waitForExit()
                let inFlightAtKill = try fleet.ledgerParts().filter { $0.state == "sending" }
                try await fleet.startCoordinator()

                try await eventually("every job finished in the ledger", timeout: .seconds(300)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                try await Task.sleep(for: .seconds(1))
                let parts = try fleet.ledgerParts()
                let jobs = try fleet.ledgerJobs()
                let file = fleet.fileResults()
                for (i, id) in ids.enumerated() {
                    let part = try #require(parts.first { $0.job == id }, "\(id) has no delivery part")
                    if i % 2 == 0 {
                        // The webhook receiver deduplicates by webhook-id: exactly one delivery each.
                        #expect(
                            Self.webhookNotices(fleet, job: id).count == 1,
                            "job \(i): \(Self.webhookNotices(fleet, job: id).count) deliveries")
                        #expect(part.state == "delivered")
                    } else {
                        // A file cannot deduplicate: an interrupted append is `uncertain`, never re-sent.
                        let lines = file.filter { ($0["job_id"] as? String) == id }.count
                        #expect(lines <= 1, "job \(i) appended \(lines) times")
                        #expect(
                            part.state == "delivered" ? lines == 1 : part.state == "uncertain", "job \(i): \(part.state), \(lines) lines")
                        if part.state == "uncertain" { #expect(jobs[id]?.finalOutcome == "uncertain") }
                    }
                }
                // Every send that was in flight at the kill is accounted for: re-sent with its id
                // (webhook) or recorded as uncertain (file).
                for interrupted in inFlightAtKill {
                    let now = try #require(parts.first { $0.deliveryID == interrupted.deliveryID })
                    #expect(now.state == (interrupted.surface.hasPrefix("file:") ? "uncertain" : "delivered"), "\(interrupted.deliveryID)")
                }
                print(
                    "coordinator kill: \(inFlightAtKill.count) sends in flight; receiver saw \(fleet.received().filter(\.duplicate).count) repeated webhook-ids (ignored)"
                )
            }
        }

        /// What both mid-batch kill tests do before they check the receiver: the coordinator is
        /// paused while `bodies` are submitted and every job runs (each completion then waits on the
        /// broker; kept short, a stopped process misses heartbeats), resumed, killed -9 once 20
        /// notices reached the receiver under test (`notices`), and started again. Answers the job
        /// ids, the jobs whose notice had landed at the kill and how many the ledger had finished.
        private func killCoordinatorMidBatch(
            _ fleet: Fleet, _ bodies: [[String: Any]], notices: () -> [[String: Any]]
        ) async throws -> (ids: [String], atKill: Set<String>, finishedAtKill: Int) {
            let coordinator = try #require(fleet.process("coordinator"))
            coordinator.kill(SIGSTOP)
            let ids = try await fleet.submitAll(bodies, concurrency: 16)
            try await eventually("every job ran", timeout: .seconds(120)) {
                let logs = (fleet.process("worker1")?.ownOutput ?? "") + (fleet.process("worker2")?.ownOutput ?? "")
                return logs.components(separatedBy: "job succeeded").count - 1 >= bodies.count
            }
            #expect(notices().isEmpty, "the paused coordinator delivered something")
            coordinator.kill(SIGCONT)
            try await eventually("the batch is being delivered", timeout: .seconds(60)) { notices().count >= 20 }
            coordinator.kill(SIGKILL)
            coordinator.waitForExit()
            let atKill = Set(notices().compactMap { $0["job_id"] as? String })
            let finishedAtKill = try fleet.ledgerJobs().values.filter { $0.finalOutcome != nil }.count
            // The kill must land in the middle of the run, or the test proves nothing.
            try #require(atKill.count < bodies.count, "the coordinator delivered all \(bodies.count) jobs before the kill; raise the count")
            try await fleet.startCoordinator()
            return (ids, atKill, finishedAtKill)
        }

        /// Group commit (#12) acks a whole read pass with one `multiple` ack after its transaction:
        /// a kill -9 in the middle of such a batch must neither lose a completion that was taken
        /// but not yet durable nor deliver a job twice. The coordinator is paused while every job
        /// completes, so on resume it takes hundreds of completions at once and is killed mid-way.
        @Test func aCoordinatorKilledInTheMiddleOfABatchOfCompletionsDeliversEveryJobOnce() async throws {
            try await withFleet("killbatch") { fleet in
                let count = 300
                try await fleet.startAll(workers: 2)
                let bodies = (0..<count).map { i in
                    fleet.detach("echo", params: ["text": "n=\(i)"], final: "hooks:\(fleet.parent)", mode: "direct")
                }
                let (ids, atKill, finishedAtKill) = try await killCoordinatorMidBatch(fleet, bodies) { fleet.received().map(\.notice) }

                try await eventually("every job finished in the ledger", timeout: .seconds(300)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                try await Task.sleep(for: .seconds(1))  // a late duplicate would show up now
                let received = fleet.received()
                let parts = try fleet.ledgerParts()
                for (i, id) in ids.enumerated() {
                    let requests = received.filter { ($0.notice["job_id"] as? String) == id }
                    // Exactly once at the receiver: one webhook-id per job (a resend after the kill
                    // reuses it and the receiver drops it), one accepted notice, with this job's result.
                    #expect(
                        Set(requests.map(\.id)).count == 1,
                        "job \(i) (\(id)) reached the receiver under \(Set(requests.map(\.id)).count) webhook-ids")
                    let accepted = requests.filter { !$0.duplicate }
                    #expect(accepted.count == 1, "job \(i) (\(id)): \(accepted.count) accepted deliveries")
                    #expect((accepted.first?.notice["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == "n=\(i)")
                    #expect(parts.first { $0.job == id }?.state == "delivered", "job \(i) (\(id))")
                }
                print(
                    "coordinator kill mid-batch: \(atKill.count) of \(count) jobs at the receiver and \(finishedAtKill) finished in the ledger at the kill; "
                        + "\(received.filter(\.duplicate).count) repeated webhook-ids after the restart (dropped by the receiver)")
            }
        }

        /// The same kill for notices to the parent inbox (#12, fifth pass): their completions commit
        /// without a sync, the notice goes out while the sync runs, and each completion is acked
        /// only once durable. Killed mid-batch, every job still reaches the parent under one
        /// delivery id (a re-send after the restart reuses it: the parent drops it) with its result.
        @Test func aCoordinatorKilledInTheMiddleOfABatchOfInboxNoticesDeliversEveryJobOnceAtTheParent() async throws {
            try await withFleet("killinbox") { fleet in
                let count = 300
                try await fleet.startAll(workers: 2)
                let inbox = try await fleet.inboxCollector()
                let bodies = (0..<count).map { i in
                    fleet.detach("echo", params: ["text": "n=\(i)"], final: "cli:\(fleet.parent)", mode: "parent")
                }
                let (ids, atKill, _) = try await killCoordinatorMidBatch(fleet, bodies) { inbox.received.map(\.notice) }

                try await eventually("every job finished in the ledger", timeout: .seconds(300)) {
                    let jobs = (try? fleet.ledgerJobs()) ?? [:]
                    return ids.allSatisfy { jobs[$0]?.finalOutcome != nil }
                }
                try await Task.sleep(for: .seconds(1))  // a late duplicate would show up now
                let notices = inbox.received
                await inbox.close()
                let parts = try fleet.ledgerParts()
                for (i, id) in ids.enumerated() {
                    let mine = notices.filter { ($0.notice["job_id"] as? String) == id }
                    let deliveryIDs = Set(mine.map(\.messageID))
                    #expect(deliveryIDs.count == 1, "job \(i) (\(id)) reached the parent under \(deliveryIDs.count) delivery ids")
                    #expect(mine.contains { ($0.notice["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines) == "n=\(i)" })
                    #expect(parts.first { $0.job == id }?.state == "delivered", "job \(i) (\(id))")
                }
                print(
                    "coordinator kill mid-batch (inbox): \(atKill.count) of \(count) jobs at the parent at the kill; "
                        + "\(notices.count - count) repeated notices after the restart (same delivery id)")
            }
        }

        @Test func aBrokerRestartDuringARunLosesNothing() async throws {
            try await withFleet("brokerrestart") { fleet in
                try await fleet.startAll(workers: 2)
                let inbox = try await fleet.inboxCollector()
                func batch(_ range: Range<Int>) -> [[String: Any]] {
                    range.map { i in
                        fleet.detach(
                            "echo", params: ["text": "n=\(i)"], final: i % 2 == 0 ? "hooks:\(fleet.parent)" : "cli:\(fleet.parent)",
                            mode: i % 2 == 0 ? "direct" : "parent")
                    }
                }
                var ids = try await fleet.submitAll(batch(0..<100))
                // Restart the broker while the second half is submitted; admission keeps admitting
                // (its outbox holds the jobs) and every process reconnects.
                let restart = Task.detached { try Broker.run(Broker.script, ["restart"]) }
                try await Task.sleep(for: .seconds(1))
                ids += try await fleet.submitAll(batch(100..<200))
                _ = try await restart.value

                try await eventually("all 200 jobs delivered", timeout: .seconds(300)) {
                    let seen = Set(
                        fleet.received().compactMap { $0.notice["job_id"] as? String }
                            + inbox.received.compactMap { $0.notice["job_id"] as? String })
                    return seen.isSuperset(of: ids)
                }
                try await Task.sleep(for: .seconds(1))
                let inboxNotices = inbox.received
                await inbox.close()
                for (i, id) in ids.enumerated() {
                    if i % 2 == 0 {
                        #expect(Self.webhookNotices(fleet, job: id).count == 1, "job \(i)")
                    } else {
                        // The inbox carries the delivery id as message-id; a re-publish after a lost
                        // confirm has the same id, which is what the parent deduplicates by.
                        let ids = Set(inboxNotices.filter { ($0.notice["job_id"] as? String) == id }.map(\.messageID))
                        #expect(ids.count == 1, "job \(i): \(ids)")
                    }
                }
            }
        }

        @Test func aCompletionNamingAnotherDestinationIsDeliveredWhereTheContractSaid() async throws {
            try await withFleet("forged") { fleet in
                try await fleet.startAll(workers: 0)
                let reply = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "real"], final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                // Act as a worker that takes the job and reports a result with its own idea of where it goes.
                let worker = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"), connectionName: "forger"))
                let consumer = try await worker.consume(queue: "bb.jobs.\(fleet.pool)", prefetch: 1)
                let job = try #require(try await take(1, from: consumer).first)
                // It holds the job, so it has the job's capability and publishes as the worker user.
                let message = try WireCodec.decode(JobMessage.self, from: Data(job.body))
                var completion =
                    try JSONSerialization.jsonObject(
                        with: WireCodec.encode(
                            Completion(
                                jobID: JobID(wireString: id), worker: "forger", startedAt: Date(), finishedAt: Date(),
                                outcome: .succeeded(result: "forged result"),
                                capability: message.completionCapability))
                    ) as! [String: Any]
                completion["final_surface"] = "file:\(fleet.parent)"
                completion["delivery_mode"] = "parent"
                completion["destination"] = "http://127.0.0.1:1/steal"
                let publisher = try await worker.makePublisher()
                try await publisher.publish(
                    OutboundMessage(
                        exchange: "bb.completions", routingKey: "completion",
                        body: Array(try JSONSerialization.data(withJSONObject: completion)),
                        properties: MessageProperties(contentType: "application/json", userID: "bb-worker")))
                job.ack()
                await worker.close()

                try await eventually("the result is delivered", timeout: .seconds(60)) { !Self.webhookNotices(fleet, job: id).isEmpty }
                try await Task.sleep(for: .seconds(1))
                let notices = Self.webhookNotices(fleet, job: id)
                #expect(notices.count == 1)
                #expect(notices.first?["final_surface"] as? String == "hooks:\(fleet.parent)")
                #expect(notices.first?["delivery_mode"] as? String == "direct")
                #expect(notices.first?["text"] as? String == "forged result")
                #expect(fleet.fileResults().isEmpty, "the completion's own destination was used")
            }
        }

        @Test func aJobThatCrashesItsWorkerEveryTimeEndsAsOneFailedNotice() async throws {
            try await withFleet("poison") { fleet in
                try await fleet.startAll(workers: 2)
                let reply = try await fleet.submit(fleet.detach("crash-worker", final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                // A supervisor (systemd in production) restarts workers as the poison job kills them.
                var restarts = 0
                try await eventually("one final notice for the poison job", timeout: .seconds(180)) {
                    for name in ["worker1", "worker2"] where fleet.process(name)?.isRunning == false {
                        restarts += 1
                        try await fleet.startWorker(name)
                    }
                    return !Self.webhookNotices(fleet, job: id).isEmpty
                }
                try await Task.sleep(for: .seconds(2))
                let notices = Self.webhookNotices(fleet, job: id)
                #expect(notices.count == 1)
                #expect(notices.first?["kind"] as? String == "failure")
                // The first attempt plus the pool's delivery limit (3) redeliveries, each killing its worker.
                let attempts = ["worker1", "worker2"].map { name in
                    (fleet.process(name)?.output ?? "").split(separator: "\n").filter { $0.contains("job started") && $0.contains(id) }
                        .count
                }.reduce(0, +)
                #expect(attempts == 4, "the job ran \(attempts) times (\(restarts) worker restarts) before it was dead-lettered")
                #expect(try fleet.ledgerJobs()[id]?.finalOutcome == "delivered")
            }
        }

        @Test func aJobWhoseWorkerNeverCompletesEndsAsOneLostNotice() async throws {
            try await withFleet("lost") { fleet in
                try await fleet.startAll(workers: 1, lostGrace: 1, sweepInterval: 1)
                let reply = try await fleet.submit(
                    fleet.detach("sleep", params: ["seconds": 600], final: "hooks:\(fleet.parent)", mode: "direct", deadline: 3))
                let id = try #require(reply.jobID, "\(reply.raw)")
                let worker = try #require(fleet.process("worker1"))
                try await worker.waitForLog("job started")
                worker.kill(SIGSTOP)  // hung: holds the job, never completes, never crashes

                try await eventually("a lost notice", timeout: .seconds(60)) { !Self.webhookNotices(fleet, job: id).isEmpty }
                #expect(Self.webhookNotices(fleet, job: id).first?["kind"] as? String == "lost")

                // The hung worker is killed; the job runs again and its late completion arrives:
                // it is counted as a duplicate, never delivered.
                worker.kill(SIGKILL)
                worker.waitForExit()
                try await fleet.startWorker("worker2")
                try await eventually("the late completion is recorded as a duplicate", timeout: .seconds(60)) {
                    ((try? fleet.ledgerJobs())?[id]?.duplicates ?? 0) >= 1
                }
                #expect(Self.webhookNotices(fleet, job: id).count == 1)
            }
        }

        @Test func theSameRequestSentTwiceIsOneJobAndOneDelivery() async throws {
            try await withFleet("idempotent") { fleet in
                try await fleet.startAll(workers: 1)
                let body = fleet.detach("echo", params: ["text": "once"], final: "hooks:\(fleet.parent)", mode: "direct", key: "deploy-42")
                let first = try await fleet.submit(body)
                let second = try await fleet.submit(body)
                #expect(first.status == 202)
                #expect(second.status == 202)
                let id = try #require(first.jobID)
                #expect(second.jobID == id)
                #expect(second.json["idempotent_replay"] as? Bool == true)
                try await eventually("delivered", timeout: .seconds(60)) { !Self.webhookNotices(fleet, job: id).isEmpty }
                try await Task.sleep(for: .seconds(1))
                #expect(fleet.received().count == 1)
            }
        }

        @Test func badInputGetsAClear4xxAndWritesNothing() async throws {
            try await withFleet("badinput") { fleet in
                try await fleet.startAll(workers: 0)
                let cases: [(String, Data, Int, String)] = [
                    ("malformed JSON", Data("{\"origin\": ".utf8), 400, "malformed_json"),
                    (
                        "unknown surface",
                        try JSONSerialization.data(
                            withJSONObject: fleet.detach("echo", params: ["text": "x"], final: "nowhere:\(fleet.parent)", mode: "direct")),
                        422, "unknown_surface"
                    ),
                    (
                        "oversized body",
                        try JSONSerialization.data(
                            withJSONObject: fleet.detach(
                                "echo", params: ["text": String(repeating: "x", count: 70_000)], final: "hooks:\(fleet.parent)",
                                mode: "direct")), 413, "body_too_large"
                    ),
                    (
                        "unknown recipe",
                        try JSONSerialization.data(withJSONObject: fleet.detach("rm-rf", final: "hooks:\(fleet.parent)", mode: "direct")),
                        422, "unknown_recipe"
                    ),
                    (
                        "bad recipe parameters",
                        try JSONSerialization.data(
                            withJSONObject: fleet.detach(
                                "sleep", params: ["seconds": "soon"], final: "hooks:\(fleet.parent)", mode: "direct")), 422,
                        "invalid_recipe_params"
                    ),
                    (
                        "missing parameter",
                        try JSONSerialization.data(withJSONObject: fleet.detach("echo", final: "hooks:\(fleet.parent)", mode: "direct")),
                        422, "invalid_recipe_params"
                    ),
                ]
                for (what, body, status, code) in cases {
                    let reply = try await fleet.post(body)
                    #expect(reply.status == status, "\(what): \(reply.raw)")
                    #expect(reply.errorCode == code, "\(what): \(reply.raw)")
                    let message = (reply.json["error"] as? [String: Any])?["message"] as? String ?? ""
                    #expect(message.count > 20, "\(what): the message should say what to fix: \(reply.raw)")
                }
                // Nothing was admitted, queued or sent.
                let listed = try await fleet.get("/v1/jobs?surface=cli:\(fleet.parent)")
                #expect(listed.json["count"] as? Int == 0, "\(listed.raw)")
                let admin = try await Broker.connect("badinput-check")
                let pool = try await admin.inspectQueue("bb.jobs.\(fleet.pool)")
                let contracts = try await admin.inspectQueue("bb.coordinator.contracts")
                await admin.close()
                #expect(pool.messageCount == 0)
                #expect(contracts.messageCount == 0)
            }
        }
    }
}
