import BridgebackCore
import Foundation
import GRDB
import Testing

@testable import BridgebackAdmission

/// Admission's answers decode into the shared wire types of `BridgebackCore` that the CLI and
/// MCP server read, and a replayed idempotency key answers what the first submit answered.
@Suite("Typed admission bodies")
struct TypedBodyTests {
    static func decode<T: Decodable>(_ type: T.Type, _ response: APIResponse) throws -> T {
        try JSONDecoder().decode(type, from: Data(response.bodyBytes))
    }

    @Test("a typed answer serves its sorted-key encoding as is; its body reads back as the same value; a new body replaces the bytes")
    func typedAnswerKeepsItsBytes() throws {
        let typed = APIErrorBody(code: "invalid_request", message: "a/b \u{1F600} \"quoted\"", field: "text")
        var response = APIResponse(status: 400, typed: typed)
        #expect(response.bodyBytes == Array(try JSONEncoder.sorted.encode(typed)))
        #expect(response.body == (try JSONValue(encoding: typed)))
        #expect(response == APIResponse(status: 400, body: try JSONValue(encoding: typed)))
        response.body = ["error": ["code": "other"]]
        #expect(response.bodyBytes == Array(#"{"error":{"code":"other"}}"#.utf8))
    }

    @Test("a repeated idempotency key answers the first answer field for field (but its own request id, replay flag and note)")
    func replayEqualsFirst() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let body =
            #"{"origin": "cli:alice", "text": "Verify the nightly backups on all 30 servers, wait until the restore test finishes", "hints": {"expected_wait_s": 1800}, "idempotency_key": "same", "contract": {"deadline_s": 600}, "recipe": {"name": "release-gate", "params": {"service": "api", "env": "staging"}}}"#
        let firstResponse = await h.submit(body)
        let replayResponse = await h.submit(body)
        #expect(firstResponse.status == 202 && replayResponse.status == 202, "\(firstResponse.body) \(replayResponse.body)")
        let first = try Self.decode(AdmissionAnswer.self, firstResponse)
        var replay = try Self.decode(AdmissionAnswer.self, replayResponse)
        #expect(first.job != nil && first.confidence != nil && first.defaultsApplied != nil)
        #expect(first.idempotentReplay == false && replay.idempotentReplay == true)
        #expect(replay.requestID != first.requestID)
        #expect(replay.notes?.first?.contains("already used") == true)
        replay.requestID = first.requestID
        replay.idempotentReplay = first.idempotentReplay
        replay.notes = first.notes
        #expect(replay == first)
    }

    @Test("a replay's defaults_applied names a defaulted deadline and recipe, as the first answer did, also after a restart")
    func replayKeepsAdmissionDefaults() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let configuration = AdmissionConfiguration(defaultRecipe: "agent", defaultRecipeTextParam: "prompt")
        let body = #"{"origin": "cli:alice", "text": "Audit every cron job", "force": "detach", "idempotency_key": "d"}"#
        let first = try Self.decode(AdmissionAnswer.self, await Harness(configuration: configuration, dir: dir).submit(body))
        let defaults = try #require(first.defaultsApplied)
        #expect(defaults.contains("recipe") && defaults.contains("deadline") && defaults.contains("work_surface"), "\(defaults)")
        let job = try #require(first.job)
        #expect(!job.contract.defaultsApplied.contains("recipe"), "the contract names only its own defaults")
        // A new admission on the same store (a restart) answers the replay from what it stored.
        let restarted = try Harness(configuration: configuration, dir: dir)
        let replay = try Self.decode(AdmissionAnswer.self, await restarted.submit(body))
        #expect(replay.idempotentReplay == true && replay.job?.jobID == job.jobID)
        #expect(replay.defaultsApplied == first.defaultsApplied)
        #expect(try await restarted.store.job(id: job.jobID)?.defaultsApplied == defaults)
    }

    @Test("a job stored before defaults were kept (migration v4) answers its contract's defaults")
    func jobsBeforeV4() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let body = #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "old"}"#
        let first = try Self.decode(AdmissionAnswer.self, await h.submit(body))
        let job = try #require(first.job)
        // What a row written before v4 holds: no defaults_applied.
        let queue = try DatabaseQueue(path: h.dir.url.appendingPathComponent("admission.sqlite").path)
        try await queue.write { db in try db.execute(sql: "UPDATE jobs SET defaults_applied = NULL") }
        let stored = try #require(try await h.store.job(id: job.jobID))
        #expect(stored.defaultsApplied == job.contract.defaultsApplied)
        let replay = try Self.decode(AdmissionAnswer.self, await h.submit(body))
        #expect(replay.defaultsApplied == job.contract.defaultsApplied)
    }

    @Test("errors, a job and a job list decode into the shared types")
    func sharedTypes() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let refused = try Self.decode(APIErrorBody.self, await h.submit(#"{"origin": "cli:nobody", "text": "hi"}"#))
        #expect(refused.error.code == "unknown_surface" && refused.error.field == "origin" && !refused.error.message.isEmpty)
        let answer = try Self.decode(
            AdmissionAnswer.self, await h.submit(#"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach"}"#))
        let job = try #require(answer.job)
        #expect(answer.decision == "detach" && answer.forced && answer.confidence == 1)
        let shownResponse = await h.api.job(id: job.jobID, as: TestAuth.alice)
        let shown = try Self.decode(AdmittedJob.self, shownResponse)
        #expect(shown == job)
        // The contract is typed, and encodes back to the JSON served: the wire form with its schema
        // tag and RFC 3339 dates, without the completion capability hash.
        #expect(shown.contract.origin.rawValue == "cli:alice" && shown.contract.jobID.description == job.jobID)
        #expect(shown.contract.completionCapabilitySHA256 == nil)
        #expect(shownResponse["contract"]?["schema"] == .string("bridgeback.contract.v1"))
        #expect(shownResponse["contract"]?["completion_capability_sha256"] == nil)
        #expect(try JSONValue(encoding: shown) == shownResponse.body)
        let stored = try #require(try await h.store.job(id: job.jobID))
        #expect(stored.contract.completionCapabilitySHA256 != nil, "the stored contract keeps its hash; only the shown one drops it")
        let list = try Self.decode(AdmittedJobList.self, await h.api.jobs(surface: "cli:alice", limit: nil, as: TestAuth.alice))
        #expect(list.count == 1 && list.jobs == [job] && list.surface == "cli:alice")
        let inline = try Self.decode(AdmissionAnswer.self, await h.submit(#"{"origin": "cli:alice", "text": "What is a canary?"}"#))
        #expect(inline.decision == "inline" && inline.job == nil && inline.notes == nil && inline.confidence != nil)
    }

    @Test("a cancel's 202 and health decode into CancelAccepted and AdmissionHealth, and encode back to the same JSON")
    func cancelAndHealth() async throws {
        let h = try Harness(publisher: FakePublisher())
        defer { h.dir.cleanup() }
        let answer = try Self.decode(
            AdmissionAnswer.self, await h.submit(#"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach"}"#))
        let id = try #require(answer.job?.jobID)
        let response = await h.api.cancel(id: id, body: Array(#"{"reason": "not needed"}"#.utf8), as: .testOperator, bearer: "tok")
        #expect(response.status == 202)
        let cancelled = try Self.decode(CancelAccepted.self, response)
        #expect(cancelled.job.jobID == id && cancelled.job.state == "cancel_requested" && cancelled.job.cancelReason == "not needed")
        #expect(cancelled.cancel == "accepted" && cancelled.requestedBy == "ops" && cancelled.workersTold == true && cancelled.note == "n")
        #expect(cancelled.requestedAt == "2026-12-06T03:00:00Z")
        #expect(try JSONValue(encoding: cancelled) == response.body)

        let healthResponse = await h.api.health()
        let health = try Self.decode(AdmissionHealth.self, healthResponse)
        #expect(health.status == "ok" && health.store == "ok" && health.broker == "connected" && health.outboxBacklog == 2)
        #expect(health.recipeCatalog == .recipes(Fixtures.catalog.recipes.count) && health.outboxOldestUnsentAgeS != nil)
        #expect(health.policyVersion == Fixtures.engine.policy.version)
        #expect(try JSONValue(encoding: health) == healthResponse.body)
        let noCatalog = try Harness(catalog: nil)
        defer { noCatalog.dir.cleanup() }
        let bare = try Self.decode(AdmissionHealth.self, await noCatalog.api.health())
        #expect(bare.recipeCatalog == .notLoaded && bare.broker == "not_configured" && bare.status == "degraded" && bare.outboxBacklog == 0)
    }

    @Test("an outcome answer and the three dry-run answers decode into OutcomeRecorded and DryRunAnswer, and encode back the same")
    func outcomeAndDryRuns() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let inline = try Self.decode(AdmissionAnswer.self, await h.submit(#"{"origin": "cli:alice", "text": "What is a canary?"}"#))
        let body = #"{"duration_s": 412.5, "succeeded": true, "sources": ["grafana", "pagerduty"]}"#
        let response = await h.api.reportOutcome(requestID: inline.requestID, body: Array(body.utf8), as: .testOperator)
        #expect(response.status == 200)
        let recorded = try Self.decode(OutcomeRecorded.self, response)
        let expected = OutcomeRecorded(requestID: inline.requestID, recorded: "created", durationS: 412.5, succeeded: true, sources: 2)
        #expect(recorded == expected)
        #expect(try JSONValue(encoding: recorded) == response.body)
        let bare = await h.api.reportOutcome(
            requestID: inline.requestID, body: Array(#"{"duration_s": 5, "succeeded": false}"#.utf8), as: .testOperator)
        #expect(try Self.decode(OutcomeRecorded.self, bare).sources == nil && bare["sources"] == nil)

        let inlineDry = await h.submit(#"{"origin": "cli:alice", "text": "What is a canary?", "dry_run": true}"#)
        #expect(inlineDry["delivery"] == .null, "an inline dry run says \"delivery\": null, it does not leave the key out")
        let wouldAnswer = try Self.decode(DryRunAnswer.self, inlineDry)
        #expect(wouldAnswer.dryRun && wouldAnswer.decision == "inline" && wouldAnswer.delivery == nil && wouldAnswer.confidence != nil)
        #expect(wouldAnswer.triggers != nil && wouldAnswer.contract == nil && wouldAnswer.jobID == nil)
        #expect(try JSONValue(encoding: wouldAnswer) == inlineDry.body)

        let detach = #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "k""#
        let detachDry = await h.submit(detach + #", "contract": {"delivery_mode": "direct"}, "dry_run": true}"#)
        let wouldDetach = try Self.decode(DryRunAnswer.self, detachDry)
        #expect(wouldDetach.decision == "detach" && wouldDetach.forced == true && wouldDetach.contract != nil)
        #expect(wouldDetach.defaultsApplied?.contains("work_surface") == true && wouldDetach.idempotentReplay == nil)
        let plan = try #require(wouldDetach.delivery)
        #expect(plan.deliveryMode == "direct" && plan.finalSurface?.id == "cli:alice" && plan.fallback != nil && plan.summary != nil)
        #expect(try JSONValue(encoding: wouldDetach) == detachDry.body)

        let job = try #require(try Self.decode(AdmissionAnswer.self, await h.submit(detach + "}")).job)
        let replayDry = await h.submit(detach + #", "dry_run": true}"#)
        let wouldReplay = try Self.decode(DryRunAnswer.self, replayDry)
        #expect(wouldReplay.idempotentReplay == true && wouldReplay.jobID == job.jobID && wouldReplay.contract == job.contract)
        #expect(wouldReplay.triggers == nil && wouldReplay.confidence == nil && wouldReplay.delivery?.deliveryMode == "parent")
        #expect(try JSONValue(encoding: wouldReplay) == replayDry.body)
    }
}
