import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `POST /v1/jobs/{id}/cancel` on the real fleet: admission → coordinator (ledger decides) →
/// `bb.cancel` → the `bb.cancels` stream → the worker, which stops the recipe's process group.
extension BrokerBacked {
    @Suite(.serialized)
    struct CancelIntegrationTests {
        /// Whether any process of group `pgid` is alive.
        static func groupAlive(_ pgid: pid_t) -> Bool {
            kill(-pgid, 0) == 0 || errno == EPERM
        }

        static func pid(in file: URL) -> pid_t? {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
            return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        }

        func cancel(_ fleet: Fleet, _ id: String, as principal: String = "fleet", reason: String? = nil) async throws -> Fleet.Reply {
            let body = try JSONSerialization.data(withJSONObject: reason.map { ["reason": $0] } ?? [:])
            return try await fleet.post(body, path: "/v1/jobs/\(id)/cancel", as: principal)
        }

        @Test func aRunningJobIsStoppedAQueuedOneNeverStartsAndAFinishedOneCannotBeCancelled() async throws {
            try await withFleet("cancel") { fleet in
                try await fleet.startAll(workers: 0)
                // One slot: the second job waits in the queue while the first runs.
                try await fleet.startWorker("worker1", slots: 1)
                let final = "hooks:\(fleet.parent)"
                let running = try await fleet.submit(fleet.detach("gate-hold", final: final, mode: "direct", deadline: 120))
                let runningID = try #require(running.jobID, "submit → \(running.status): \(running.raw)")
                let pidFile = fleet.directory.appendingPathComponent("gate.pid")
                try await eventually("the checklist reached its hold step", timeout: .seconds(20)) { Self.pid(in: pidFile) != nil }
                let pgid = try #require(Self.pid(in: pidFile))
                #expect(Self.groupAlive(pgid))
                #expect(FileManager.default.fileExists(atPath: fleet.directory.appendingPathComponent("prepared").path))

                let queued = try await fleet.submit(fleet.detach("touch", final: final, mode: "direct", deadline: 120))
                let queuedID = try #require(queued.jobID, "submit → \(queued.status): \(queued.raw)")

                // Someone who may not see the job cannot cancel it (answered as unknown).
                let stranger = try await cancel(fleet, runningID, as: "other")
                #expect(stranger.status == 404, "\(stranger.raw)")

                // Cancelled before it starts: the only slot is busy, so it is still in the queue.
                let early = try await cancel(fleet, queuedID, reason: "not needed after all")
                #expect(early.status == 202, "\(early.raw)")
                #expect(early.json["workers_told"] as? Bool == true, "\(early.raw)")

                let stop = try await cancel(fleet, runningID)
                #expect(stop.status == 202, "\(stop.raw)")
                #expect(stop.json["requested_by"] as? String == "fleet", "\(stop.raw)")

                // The recipe's whole process group is gone (SIGTERM, SIGKILL after 2 s at worst),
                // and the checklist rolled back its completed step.
                try await eventually("the recipe's process group is gone", timeout: .seconds(10)) { !Self.groupAlive(pgid) }
                try await eventually("the checklist's rollback removed prepared", timeout: .seconds(10)) {
                    !FileManager.default.fileExists(atPath: fleet.directory.appendingPathComponent("prepared").path)
                }

                // The freed slot takes the queued job, which must not run.
                let worker = try #require(fleet.process("worker1"))
                try await worker.waitForLog("job cancelled before it started", timeout: .seconds(20))
                try await worker.waitForLog("job cancelled; its recipe was stopped", timeout: .seconds(20))
                #expect(
                    !FileManager.default.fileExists(atPath: fleet.directory.appendingPathComponent("touched").path), "a cancelled job ran")

                // Exactly one final notice each, at the receiver, saying who cancelled and when.
                try await eventually("both cancelled notices arrived", timeout: .seconds(20)) {
                    Set(fleet.received().compactMap { $0.notice["job_id"] as? String }).isSuperset(of: [runningID, queuedID])
                }
                // The stopped run's own completion reaches the coordinator too; it must not add a notice.
                try await eventually("the stopped run's completion was counted as a duplicate", timeout: .seconds(20)) {
                    (try? fleet.ledgerJobs())?[runningID]?.duplicates ?? 0 >= 1
                }
                let received = fleet.received()
                for (id, reason) in [(runningID, nil), (queuedID, "not needed after all")] as [(String, String?)] {
                    let notices = received.filter { $0.notice["job_id"] as? String == id }
                    #expect(notices.count == 1, "job \(id): \(notices.count) notices")
                    #expect(notices.first?.notice["kind"] as? String == "cancelled")
                    let text = notices.first?.notice["text"] as? String ?? ""
                    #expect(text.contains("cancelled by fleet at 20"), "\(text)")
                    if let reason { #expect(text.contains(reason), "\(text)") }
                }
                let ledger = try fleet.ledgerJobs()
                #expect(ledger[runningID]?.noticeKind == "cancelled")
                #expect(ledger[queuedID]?.noticeKind == "cancelled")
                #expect(ledger[runningID]?.finalOutcome == "delivered")

                // Admission shows the cancel.
                let view = try await fleet.get("/v1/jobs/\(runningID)")
                #expect(view.json["state"] as? String == "cancel_requested", "\(view.raw)")

                // A finished job cannot be cancelled: 409 with a JSON error; a second cancel neither.
                let done = try await fleet.submit(fleet.detach("noop", final: final, mode: "direct"))
                let doneID = try #require(done.jobID)
                try await eventually("the noop job was delivered", timeout: .seconds(20)) {
                    fleet.received().contains { $0.notice["job_id"] as? String == doneID }
                }
                let late = try await cancel(fleet, doneID)
                #expect(late.status == 409, "\(late.raw)")
                #expect(late.errorCode == "job_finished", "\(late.raw)")
                let again = try await cancel(fleet, runningID)
                #expect(again.status == 409, "\(again.raw)")
                #expect(again.errorCode == "already_cancelled", "\(again.raw)")
                #expect(fleet.received().filter { $0.notice["job_id"] as? String == doneID }.first?.notice["kind"] as? String == "result")
            }
        }
    }
}
