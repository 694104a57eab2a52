import BridgebackCore
import Foundation
import Synchronization
import Testing

@testable import BridgebackAdmission

/// Stands in for the coordinator's status API: answers `GET /v1/jobs/{id}/delivery` from
/// `statuses` (404 for others) and `GET /v1/deliveries` with the statuses listed in `page`;
/// with `down`, every call throws. Records the job ids asked for and the bearer tokens.
final class FakeDeliveries: DeliveryLookup {
    struct State {
        var statuses: [String: JobDeliveryStatus] = [:]
        var page: [String] = []
        var down = false
        var asked: [String] = []
        var pages = 0
        var bearers: [String] = []
    }
    let state = Mutex(State())
    struct Down: Error {}

    func delivery(jobID: String, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        let (down, status) = state.withLock { s in
            s.asked.append(jobID)
            s.bearers.append(bearer)
            return (s.down, s.statuses[jobID])
        }
        if down { throw Down() }
        guard let status else { return (404, Array(#"{"error": {"code": "not_found", "message": "no job"}}"#.utf8)) }
        return (200, Array(try WireCodec.encodeBody(status)))
    }

    func deliveries(surface: String?, limit: Int, bearer: String) async throws -> (status: Int, body: [UInt8]) {
        let (down, jobs) = state.withLock { s in
            s.pages += 1
            s.bearers.append(bearer)
            return (s.down, s.page.compactMap { s.statuses[$0] })
        }
        if down { throw Down() }
        return (200, Array(try WireCodec.encodeBody(DeliveryList(surface: surface, count: jobs.count, jobs: jobs))))
    }
}

@Suite("Job stories: admission's record joined with the coordinator's delivery, once, server-side")
struct StoryTests {
    static func delivered(_ id: String) -> JobDeliveryStatus {
        JobDeliveryStatus(
            jobID: id, state: "finished", finalOutcome: "delivered", noticeKind: "result", summary: "audit", origin: "cli:alice",
            finalSurface: "cli:alice", worker: "worker-a/1", runSeconds: 12, finishedAt: "2026-12-06T06:00:00.000Z", turnaroundSeconds: 14,
            human: "delivered to Alice's terminal (parent-mediated), 1 part",
            parts: [
                PartStatus(
                    deliveryID: "dlv_x_1", purpose: "final", part: 1, totalParts: 1, surface: "cli:alice", surfaceName: "Alice's terminal",
                    state: "delivered", stateText: "delivered", attempts: 1, lastFailure: nil, nextAttemptAt: nil,
                    deliveredAt: "2026-12-06T06:00:00.000Z", updatedAt: "2026-12-06T06:00:00.000Z")
            ],
            links: ["self": "/v1/jobs/\(id)/delivery", "result": "/v1/jobs/\(id)/result", "admission": "/v1/jobs/\(id)"])
    }

    static func story(_ response: APIResponse) throws -> JobStory {
        try WireCodec.decodeBody(JobStory.self, from: Data(response.bodyBytes))
    }

    @Test("one answer: how it was admitted and decided, its contract, and the coordinator's delivery asked with the caller's token")
    func oneJob() async throws {
        let deliveries = FakeDeliveries()
        let h = try Harness(deliveryLookup: deliveries)
        defer { h.dir.cleanup() }
        let submitted = await h.submit(#"{"origin": "cli:alice", "text": "Audit the cron jobs on every host", "force": "detach"}"#)
        let id = try #require(submitted["job_id"]?.string)
        deliveries.state.withLock { $0.statuses[id] = Self.delivered(id) }

        let response = await h.api.story(id: id, as: TestAuth.alice, bearer: "alice-token")
        #expect(response.status == 200)
        #expect(AdmissionOpenAPITests.document.problems(in: response.body, schemaNamed: "JobStory") == [])
        let story = try Self.story(response)
        #expect(story.jobID == id && story.contract.jobID.description == id && story.contract.origin == "cli:alice")
        #expect(story.contract.completionCapabilitySHA256 == nil)
        #expect(story.admission.decision == "detach" && story.admission.forced == true && story.admission.state == "accepted")
        #expect(story.admission.policyVersion == Fixtures.engine.policy.version && story.admission.receivedAt != nil)
        #expect(story.delivery == Self.delivered(id) && story.deliveryNote == nil)
        #expect(story.human == "delivered to Alice's terminal (parent-mediated), 1 part")
        #expect(deliveries.state.withLock { $0.bearers } == ["alice-token"])
    }

    @Test("when the coordinator cannot say, the story is still admission's, with a note saying why")
    func coordinatorCannotSay() async throws {
        let deliveries = FakeDeliveries()
        let h = try Harness(deliveryLookup: deliveries)
        defer { h.dir.cleanup() }
        let id = try #require(await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)["job_id"]?.string)

        let unknown = try Self.story(await h.api.story(id: id, as: .testOperator, bearer: "t"))
        #expect(unknown.delivery == nil && unknown.deliveryNote?.contains("has not heard of this job yet") == true)
        #expect(unknown.human == "accepted, waiting in admission's outbox")

        deliveries.state.withLock { $0.down = true }
        let down = try Self.story(await h.api.story(id: id, as: .testOperator, bearer: "t"))
        #expect(down.delivery == nil && down.deliveryNote?.contains("could not be asked") == true)

        let alone = try Harness(deliveryLookup: nil)
        defer { alone.dir.cleanup() }
        let lonely = try #require(await alone.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)["job_id"]?.string)
        let none = try Self.story(await alone.api.story(id: lonely, as: .testOperator, bearer: "t"))
        #expect(none.deliveryNote?.contains("no coordinator is configured") == true)
    }

    @Test("a principal sees only its own jobs' stories: another's is 404 and the coordinator is never asked")
    func onlyOwnJobs() async throws {
        let deliveries = FakeDeliveries()
        let h = try Harness(deliveryLookup: deliveries)
        defer { h.dir.cleanup() }
        let id = try #require(await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)["job_id"]?.string)
        deliveries.state.withLock { $0.statuses[id] = Self.delivered(id) }

        let bob = await h.api.story(id: id, as: TestAuth.bob, bearer: "bob-token")
        #expect(bob.status == 404 && bob.errorCode == "not_found")
        #expect(await h.api.story(id: "nonsense", as: TestAuth.bob, bearer: "bob-token").status == 404)
        let list = try WireCodec.decodeBody(
            JobStoryList.self, from: Data(await h.api.stories(surface: nil, limit: nil, as: TestAuth.bob, bearer: "bob-token").bodyBytes))
        #expect(list.count == 0 && list.jobs.isEmpty)
        #expect(deliveries.state.withLock { $0.asked.isEmpty && $0.pages == 0 })
    }

    @Test("the list joins one coordinator page and asks only for the jobs that page missed")
    func list() async throws {
        let deliveries = FakeDeliveries()
        let h = try Harness(deliveryLookup: deliveries)
        defer { h.dir.cleanup() }
        let a = try #require(await h.submit(#"{"origin": "cli:alice", "text": "Audit A", "force": "detach"}"#)["job_id"]?.string)
        let b = try #require(await h.submit(#"{"origin": "cli:alice", "text": "Audit B", "force": "detach"}"#)["job_id"]?.string)
        let c = try #require(await h.submit(#"{"origin": "cli:alice", "text": "Audit C", "force": "detach"}"#)["job_id"]?.string)
        deliveries.state.withLock { s in
            s.statuses[a] = Self.delivered(a)
            s.statuses[b] = Self.delivered(b)
            s.page = [a]
        }
        let response = await h.api.stories(surface: "work:alice", limit: "10", as: TestAuth.alice, bearer: "alice-token")
        #expect(response.status == 200)
        #expect(
            AdmissionOpenAPITests.document.problems(in: response.body, schemaNamed: "JobStoryList")
                == [])
        let list = try WireCodec.decodeBody(JobStoryList.self, from: Data(response.bodyBytes))
        #expect(list.jobs.map(\.jobID) == [c, b, a] && list.count == 3 && list.warning == nil)
        #expect(list.jobs.map { $0.delivery != nil } == [false, true, true])
        #expect(deliveries.state.withLock { ($0.pages, Set($0.asked)) } == (1, [b, c]))
        #expect(await h.api.stories(surface: nil, limit: "0", as: .testOperator, bearer: "t").status == 400)
        #expect(await h.api.stories(surface: "nope:x", limit: nil, as: .testOperator, bearer: "t").status == 422)
    }
}
