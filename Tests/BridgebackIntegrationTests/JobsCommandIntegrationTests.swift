import BridgebackCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `bridgeback jobs` against a real fleet: each job's whole story comes from one answer of
/// admission, which joined the real coordinator's delivery status server-side; another
/// principal sees none of it; with admission stopped, the CLI says so and shows the ledger only.
/// About 5 s.
extension BrokerBacked {
    @Suite(.serialized)
    struct JobsCommandIntegrationTests {
        @Test func jobsTellsEachJobsWholeStoryFromOneAnswer() async throws {
            try await withFleet("jobs") { fleet in
                try await fleet.startAll(workers: 1)
                let reply = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "hello"], final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                try await eventually("the job is delivered") { try fleet.ledgerJobs()[id]?.finalOutcome == "delivered" }
                let endpoints = [
                    "--admission", "http://127.0.0.1:\(fleet.admissionPort)", "--coordinator", "http://127.0.0.1:\(fleet.coordinatorPort)",
                    "--token-file", fleet.tokenFile.path,
                ]
                func cli(_ arguments: [String]) throws -> (Int32, String) {
                    try SecretRedactionIntegrationTests.cli(arguments + endpoints, directory: fleet.directory)
                }

                // One typed answer: admitted and decided (admission), ran and delivered (the coordinator).
                let (showStatus, shown) = try cli(["jobs", "show", id, "--json"])
                #expect(showStatus == 0, "\(shown)")
                let story = try WireCodec.decodeBody(JobStory.self, from: Data(shown.utf8))
                #expect(story.admission.decision == "detach" && story.admission.forced == true && story.admission.state == "published")
                #expect(story.contract.jobID.description == id && story.contract.finalSurface.rawValue == "hooks:\(fleet.parent)")
                let delivery = try #require(story.delivery, "\(shown)")
                #expect(delivery.finalOutcome == "delivered" && delivery.worker != nil && delivery.parts.count == 1)
                #expect(story.human == "delivered to the test receiver (direct), 1 part" && story.deliveryNote == nil)

                let (listStatus, listed) = try cli(["jobs", "list"])
                #expect(
                    listStatus == 0 && listed.contains(id) && listed.contains("delivered to the test receiver (direct), 1 part"),
                    "\(listed)")
                let (_, detail) = try cli(["jobs", "show", id])
                #expect(detail.contains("state      delivered to the test receiver") && detail.contains("1/1 final"), "\(detail)")

                // Another principal: the story of this job is not there for it.
                #expect(try await fleet.get("/v1/jobs/\(id)/story", as: "other").status == 404)
                #expect(try await fleet.get("/v1/stories", as: "other").json["count"] as? Int == 0)

                // Admission stopped: said once, and the coordinator's ledger alone still answers.
                let admission = try #require(fleet.process("admission"))
                admission.kill(SIGTERM)
                admission.waitForExit()
                let (fallbackStatus, fallback) = try cli(["jobs", "list"])
                #expect(
                    fallbackStatus == 0 && fallback.contains("showing the coordinator's ledger only") && fallback.contains(id),
                    "\(fallback)")
            }
        }
    }
}
