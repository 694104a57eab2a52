import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

@Suite("POST /v1/requests")
struct SubmitTests {
    @Test("a valid detach writes one job, its contract and two outbox rows, and answers the human line")
    func detach() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api 2.3", "force": "detach", "idempotency_key": "k1", "recipe": {"name": "release-gate", "params": {"service": "api", "env": "staging"}}}"#
        )
        #expect(response.status == 202)
        #expect(response["decision"]?.string == "detach")
        let jobID = try #require(response["job_id"]?.string)
        #expect(jobID.hasPrefix("job_"))
        #expect(
            response["human"]?.string
                == "Detached: Run the release gate for api 2.3; progress in Alice's work log; the answer returns to Alice's terminal (parent-mediated)"
        )
        #expect(response["contract"]?["final_surface"]?.string == "cli:alice")
        #expect(response["contract"]?["work_surface"]?.string == "work:alice")
        #expect(response["contract"]?["delivery_mode"]?.string == "parent")
        #expect(response["defaults_applied"]?.strings == ["work_surface", "final_surface", "delivery_mode", "parent_id", "deadline"])
        #expect(response["notes"]?.strings.contains { $0.hasPrefix("Defaults used: work_surface = work:alice (Alice's work log)") } == true)
        #expect(response["state"]?.string == "accepted")
        #expect(response["policy_version"]?.string == Fixtures.engine.policy.version)

        let counts = try await h.store.counts()
        #expect(counts == StoreCounts(requests: 1, jobs: 1, outbox: 2, unsent: 2))
        let rows = try await h.store.allOutbox()
        #expect(rows.map(\.kind) == [.contract, .job])
        #expect(rows.allSatisfy { $0.jobID == jobID })
        #expect(rows[0].exchange == "bb.contracts" && rows[0].routingKey == "contract")
        #expect(rows[1].exchange == "bb.jobs" && rows[1].routingKey == "default")
        let contract = try WireCodec.decode(OwnershipContract.self, from: Data(rows[0].payload))
        #expect(contract.jobID.description == jobID)
        #expect(contract.recipe.name == "release-gate")
        let job = try WireCodec.decode(JobMessage.self, from: Data(rows[1].payload))
        #expect(job.jobID.description == jobID && job.pool == "default")
        let log = try await h.store.requestLog()
        #expect(log.count == 1 && log[0].decision == "detach" && log[0].jobID == jobID && log[0].forced && log[0].idempotencyKey == "k1")
    }

    /// The 202 is built without reading the job back: it must show what `GET /v1/jobs/{id}`
    /// shows of the stored job, and its bytes must be the sorted JSON of its body (as when every
    /// answer went through a `JSONValue` first).
    @Test("the 202 shows the stored contract, and its bytes are its body's sorted JSON")
    func detachAnswerMatchesTheStoredJob() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api 2.3 / é", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api", "env": "staging"}}}"#
        )
        #expect(response.status == 202)
        #expect(response.bodyBytes == Array(try JSONEncoder.sorted.encode(response.body)))
        let jobID = try #require(response["job_id"]?.string)
        let stored = try #require(try await h.store.job(id: jobID))
        #expect(response["contract"]?["completion_capability_sha256"] == nil)
        #expect(response["contract"]?["job_id"]?.string == stored.contract.jobID.description)
        #expect(response["created_at"]?.string == WireDate.format(stored.createdAt))
        let shown = await h.api.job(id: jobID, as: .testOperator)
        #expect(shown["contract"] == response["contract"])
        #expect(shown["created_at"] == response["created_at"])
        var changed = response
        changed.body = ["replaced": true]
        #expect(changed.bodyBytes == Array(#"{"replaced":true}"#.utf8))
    }

    @Test("an inline decision answers the decision and writes only the request log")
    func inline() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "What does a canary release mean?", "idempotency_key": "q1"}"#)
        #expect(response.status == 200)
        #expect(response["decision"]?.string == "inline")
        #expect(response["reason"]?.string?.isEmpty == false)
        #expect(response["policy_version"]?.string == Fixtures.engine.policy.version)
        #expect(response["triggers"] != nil)
        #expect(response["job_id"] == nil)
        #expect(try await h.store.counts() == StoreCounts(requests: 1, jobs: 0, outbox: 0, unsent: 0))
        let log = try await h.store.requestLog()
        #expect(log.first?.decision == "inline" && log.first?.jobID == nil && log.first?.text == "What does a canary release mean?")
    }

    @Test("the policy decides by shape: work to do detaches without force")
    func policyDetaches() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Verify the nightly backups on all 30 servers, wait until the restore test finishes, and report which ones failed", "hints": {"expected_wait_s": 1800}}"#
        )
        #expect(response.status == 202)
        #expect(response["decision"]?.string == "detach")
        #expect(response["triggers"]?.strings.isEmpty == false)
        let log = try await h.store.requestLog()
        #expect(log.first?.hintsJSON == #"{"expected_wait_s":1800}"#)
    }

    @Test("a detach without a recipe uses the default free-text recipe and says so")
    func defaultRecipe() async throws {
        let h = try Harness(configuration: .init(defaultRecipe: "agent", defaultRecipeTextParam: "prompt"))
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "Audit every cron job", "force": "detach"}"#)
        #expect(response.status == 202)
        #expect(response["contract"]?["recipe"]?["name"]?.string == "agent")
        #expect(response["contract"]?["recipe"]?["params"]?["prompt"]?.string == "Audit every cron job")
        #expect(response["notes"]?.strings.first == "no recipe named: using the default recipe 'agent' for free-text requests")
        #expect(response["defaults_applied"]?.strings.contains("recipe") == true)
    }

    @Test("the catalog's default_recipe applies when no knob is set")
    func catalogDefaultRecipe() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "Audit every cron job", "force": "detach"}"#)
        #expect(response.status == 202)
        #expect(response["contract"]?["recipe"]?["name"]?.string == "noop")
    }

    @Test("an explicit contract is kept; suppressed gets its own human line")
    func explicitContract() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(
            #"{"origin": "api:anon", "text": "Sweep the logs", "force": "detach", "summary": "log sweep", "contract": {"work_surface": "work:alice", "final_surface": "cli:alice", "delivery_mode": "direct", "deadline_s": 600}}"#
        )
        #expect(response.status == 202)
        #expect(
            response["human"]?.string
                == "Detached: log sweep; progress in Alice's work log; the answer returns to Alice's terminal (direct)")
        #expect(response["defaults_applied"]?.strings == ["parent_id", "recipe"])
        let suppressed = await h.submit(
            #"{"origin": "cli:alice", "text": "Sweep the logs", "force": "detach", "contract": {"delivery_mode": "suppressed"}}"#)
        #expect(suppressed["human"]?.string?.hasSuffix("the answer is kept with the job, not sent (suppressed)") == true)
    }

    @Test("the same idempotency key from the same origin returns the same job")
    func idempotentResubmit() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let body = #"{"origin": "cli:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "same"}"#
        let first = await h.submit(body)
        let second = await h.submit(body)
        #expect(first.status == 202 && second.status == 202)
        #expect(first["job_id"] == second["job_id"])
        #expect(second["idempotent_replay"] == .bool(true))
        #expect(first["idempotent_replay"] == .bool(false))
        #expect(second["human"] == first["human"])
        let counts = try await h.store.counts()
        #expect(counts.jobs == 1 && counts.outbox == 2 && counts.requests == 2)
        let log = try await h.store.requestLog()
        #expect(log.map(\.replay) == [false, true])
        #expect(log.allSatisfy { $0.jobID == first["job_id"]?.string })

        // Another origin with the same key is another job.
        let other = await h.submit(
            #"{"origin": "work:alice", "text": "Run the release gate", "force": "detach", "idempotency_key": "same"}"#)
        #expect(other.status == 202 && other["job_id"] != first["job_id"])
    }

    @Test("concurrent submits with one key create exactly one job")
    func concurrentIdempotency() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let body = #"{"origin": "cli:alice", "text": "Check every shard", "force": "detach", "idempotency_key": "race"}"#
        let ids = await withTaskGroup(of: String?.self) { group in
            for _ in 0..<24 { group.addTask { await h.submit(body)["job_id"]?.string } }
            var ids: [String?] = []
            for await id in group { ids.append(id) }
            return ids
        }
        #expect(ids.count == 24)
        #expect(Set(ids.compactMap { $0 }).count == 1)
        #expect(ids.allSatisfy { $0 != nil })
        let counts = try await h.store.counts()
        #expect(counts.jobs == 1 && counts.outbox == 2 && counts.requests == 24)
    }

    @Test("two stores on one file (two processes) still give one job per key")
    func crossStoreIdempotency() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let a = try Harness(dir: dir)
        let b = try Harness(dir: dir)
        let body = #"{"origin": "cli:alice", "text": "Check every shard", "force": "detach", "idempotency_key": "two"}"#
        async let first = a.submit(body)
        async let second = b.submit(body)
        let (r1, r2) = await (first, second)
        #expect(r1["job_id"] != nil && r1["job_id"] == r2["job_id"])
        #expect(try await a.store.counts().jobs == 1)
    }
}
