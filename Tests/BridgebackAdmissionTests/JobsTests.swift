import Foundation
import Testing

@testable import BridgebackAdmission

@Suite("GET /v1/jobs, cancel, health")
struct JobsTests {
    @Test("a job shows its ownership record and admission state; lists filter by surface")
    func jobAndList() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let a = await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)
        let b = await h.submit(
            #"{"origin": "api:anon", "text": "Audit B", "force": "detach", "contract": {"final_surface": "pager:digest", "work_surface": "pager:digest"}}"#
        )
        let id = try #require(a["job_id"]?.string)

        let job = await h.api.job(id: id, as: .testOperator)
        #expect(job.status == 200)
        #expect(job["state"]?.string == "accepted")
        #expect(job["state_source"]?.string == "admission")
        #expect(job["contract"]?["origin"]?.string == "cli:alice")
        #expect(job["human"] == a["human"])
        #expect(await h.api.job(id: id.lowercased(), as: .testOperator)["job_id"]?.string == id)

        let missing = await h.api.job(id: "job_01K742SG7TN426GVR1K1DKM9TR", as: .testOperator)
        #expect(missing.status == 404 && missing.errorCode == "not_found")
        #expect(await h.api.job(id: "nonsense", as: .testOperator).status == 404)

        let alice = await h.api.jobs(surface: "work:alice", limit: nil, as: .testOperator)
        #expect(alice["jobs"].map { if case .array(let a) = $0 { a.count } else { -1 } } == 1)
        let pager = await h.api.jobs(surface: "pager:digest", limit: nil, as: .testOperator)
        #expect(pager["jobs"].flatMap { if case .array(let a) = $0 { a.first?["job_id"] } else { nil } } == b["job_id"])
        let all = await h.api.jobs(surface: nil, limit: "10", as: .testOperator)
        #expect(all["count"] == .number(2))
        #expect(await h.api.jobs(surface: "nope:x", limit: nil, as: .testOperator).status == 422)
        #expect(await h.api.jobs(surface: nil, limit: "0", as: .testOperator).status == 400)
    }

    @Test("cancel goes to the coordinator: 202 recorded once, a repeat is its 409, unknown jobs are 404, no coordinator is 503")
    func cancel() async throws {
        let coordinator = FakeCoordinator()
        let h = try Harness(cancelForwarder: coordinator)
        defer { h.dir.cleanup() }
        let a = await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)
        let id = try #require(a["job_id"]?.string)
        let first = await h.api.cancel(id: id, body: Array(#"{"reason": "not needed"}"#.utf8), as: .testOperator, bearer: "tok")
        #expect(first.status == 202)
        #expect(first["state"]?.string == "cancel_requested")
        #expect(first["cancel"]?.string == "accepted")
        #expect(first["cancel_reason"]?.string == "not needed")
        #expect(first["requested_by"]?.string == "ops" && first["workers_told"] == .bool(true))
        #expect(coordinator.state.withLock { $0.bearers } == ["tok"], "the caller's token goes to the coordinator")
        let second = await h.api.cancel(id: id, body: [], as: .testOperator, bearer: "tok")
        #expect(second.status == 409)
        #expect(second["error"]?["code"]?.string == "already_cancelled")
        #expect(await h.api.job(id: id, as: .testOperator)["state"]?.string == "cancel_requested")
        #expect(await h.api.cancel(id: "job_01K742SG7TN426GVR1K1DKM9TR", body: [], as: .testOperator, bearer: "tok").status == 404)
        #expect(await h.api.cancel(id: id, body: Array("oops".utf8), as: .testOperator, bearer: "tok").status == 400)

        // The coordinator has not received the contract: retried for a while, then 503, nothing recorded.
        let b = await h.submit(#"{"origin": "cli:alice", "text": "Audit B", "force": "detach"}"#)
        let idB = try #require(b["job_id"]?.string)
        coordinator.state.withLock { _ = $0.unknown.insert(idB) }
        let callsBefore = coordinator.state.withLock { $0.calls }
        let notYet = await h.api.cancel(id: idB, body: [], as: .testOperator, bearer: "tok")
        #expect(notYet.status == 503 && notYet["error"]?["code"]?.string == "cancel_unavailable")
        #expect(coordinator.state.withLock { $0.calls } - callsBefore >= 2, "a 404 from the coordinator is retried")
        #expect(await h.api.job(id: idB, as: .testOperator)["state"]?.string != "cancel_requested")
        coordinator.state.withLock { $0.down = true }
        #expect(await h.api.cancel(id: idB, body: [], as: .testOperator, bearer: "tok").status == 503)

        let alone = try Harness(cancelForwarder: nil)
        defer { alone.dir.cleanup() }
        let c = await alone.submit(#"{"origin": "cli:alice", "text": "Audit C", "force": "detach"}"#)
        let refused = await alone.api.cancel(id: try #require(c["job_id"]?.string), body: [], as: .testOperator, bearer: "tok")
        #expect(refused.status == 503 && refused["error"]?["code"]?.string == "cancel_unavailable")
    }

    @Test("health reports store, broker and backlog")
    func health() async throws {
        let h = try Harness(publisher: FakePublisher())
        defer { h.dir.cleanup() }
        _ = await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)
        let health = await h.api.health()
        #expect(health.status == 200)
        #expect(health["status"]?.string == "ok")
        #expect(health["store"]?.string == "ok")
        #expect(health["broker"]?.string == "connected")
        #expect(health["outbox_backlog"] == .number(2))

        let noBroker = try Harness()
        defer { noBroker.dir.cleanup() }
        let degraded = await noBroker.api.health()
        #expect(degraded.status == 200 && degraded["status"]?.string == "degraded" && degraded["broker"]?.string == "not_configured")
    }

    @Test("health: a broker that blocked publishes (memory or disk alarm) is 'blocked' and degraded")
    func healthBlocked() async throws {
        let publisher = FakePublisher()
        publisher.state.withLock { $0.blocked = true }
        let h = try Harness(publisher: publisher)
        defer { h.dir.cleanup() }
        let health = await h.api.health()
        #expect(health.status == 200)
        #expect(health["status"]?.string == "degraded")
        #expect(health["broker"]?.string == "blocked")
        publisher.state.withLock { $0.blocked = false }
        #expect(await h.api.health()["broker"]?.string == "connected")
    }
}
