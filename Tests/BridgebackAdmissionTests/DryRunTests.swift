import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// `POST /v1/requests` with `"dry_run": true`: the same checks, an answer about what would
/// happen, and nothing written.
@Suite("POST /v1/requests with dry_run")
struct AdmissionDryRunTests {
    /// Nothing at all, not even a `contract_refusals` row for a refused dry run.
    static let empty = StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: 0)

    @Test("a detach: decision, contract, human line and delivery plan, status 200, nothing written")
    func detach() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        #expect(try await h.store.counts() == Self.empty)
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api 2.3", "force": "detach", "idempotency_key": "k1", "recipe": {"name": "release-gate", "params": {"service": "api"}}, "dry_run": true}"#
        )
        #expect(response.status == 200)
        #expect(response["dry_run"] == .bool(true))
        #expect(response["decision"]?.string == "detach")
        #expect(response["request_id"] == nil && response["job_id"] == nil)
        #expect(
            response["human"]?.string
                == "Would detach: Run the release gate for api 2.3; progress in Alice's work log; the answer returns to Alice's terminal (parent-mediated)"
        )
        #expect(response["contract"]?["final_surface"]?.string == "cli:alice")
        #expect(response["contract"]?["delivery_mode"]?.string == "parent")
        #expect(response["defaults_applied"]?.strings == ["work_surface", "final_surface", "delivery_mode", "parent_id", "deadline"])
        let delivery = try #require(response["delivery"])
        #expect(delivery["delivery_mode"]?.string == "parent")
        #expect(delivery["delivery_mode_name"]?.string == "parent-mediated")
        let surface = try #require(delivery["final_surface"])
        #expect(surface["id"]?.string == "cli:alice" && surface["kind"]?.string == "inbox")
        #expect(surface["human_name"]?.string == "Alice's terminal")
        #expect(surface["max_length"] == .number(1_000_000) && surface["unit_words"]?.string == "bytes")
        #expect(surface["length_policy"]?.string == "split" && surface["direct_allowed"] == .bool(true))
        #expect(surface["address"] == nil)
        #expect(
            delivery["summary"]?.string
                == "the answer would go to Alice's terminal (parent-mediated); the result will be split into parts of at most 1,000,000 bytes (context lines included)"
        )
        #expect(response["notes"]?.strings.contains { $0.hasPrefix("dry run: nothing was recorded") } == true)

        #expect(try await h.store.counts() == Self.empty)
        #expect(try await h.store.requestLog().isEmpty)
        #expect(try await h.store.allOutbox().isEmpty)

        // The same request for real is admitted normally: the dry run left no trace, not even the key.
        let real = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api 2.3", "force": "detach", "idempotency_key": "k1", "recipe": {"name": "release-gate", "params": {"service": "api"}}}"#
        )
        #expect(real.status == 202 && real["idempotent_replay"] == .bool(false))
    }

    @Test("direct: the fallback is named; suppressed: nothing would be sent")
    func directAndSuppressed() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api", "force": "detach", "recipe": {"name": "noop"}, "contract": {"delivery_mode": "direct"}, "dry_run": true}"#
        )
        #expect(response.status == 200)
        let delivery = try #require(response["delivery"])
        #expect(delivery["delivery_mode"]?.string == "direct")
        #expect(delivery["fallback"]?.string == "if direct delivery fails for good, a notice with the answer goes to Alice's work log")
        #expect(try await h.store.counts() == Self.empty)

        let suppressed = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the release gate for api", "force": "detach", "recipe": {"name": "noop"}, "contract": {"delivery_mode": "suppressed"}, "dry_run": true}"#
        )
        #expect(suppressed["delivery"]?["summary"]?.string == "nothing would be sent: the answer is kept with the job (suppressed)")
    }

    @Test("an inline decision: the decision, no delivery, nothing logged")
    func inline() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "What does a canary release mean?", "dry_run": true}"#)
        #expect(response.status == 200)
        #expect(response["dry_run"] == .bool(true))
        #expect(response["decision"]?.string == "inline")
        #expect(response["delivery"] == .null)
        #expect(response["human"]?.string?.hasPrefix("Would answer inline: ") == true)
        #expect(try await h.store.counts() == Self.empty)
    }

    @Test("a used idempotency key: says the existing job would be returned, logs no replay")
    func replay() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let first = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the gate", "force": "detach", "idempotency_key": "k9", "recipe": {"name": "noop"}}"#)
        let jobID = try #require(first["job_id"]?.string)
        let before = try await h.store.counts()
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Run the gate", "force": "detach", "idempotency_key": "k9", "recipe": {"name": "noop"}, "dry_run": true}"#
        )
        #expect(response.status == 200)
        #expect(response["idempotent_replay"] == .bool(true) && response["job_id"]?.string == jobID)
        #expect(response["human"]?.string?.hasPrefix("Would return the existing job \(jobID)") == true)
        #expect(try await h.store.counts() == before)
    }

    @Test("bad requests with dry_run keep their 4xx and write nothing")
    func refusals() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let cases: [(String, Int, String)] = [
            (#"{"origin": "cli:nobody", "text": "Run it", "dry_run": true}"#, 422, "unknown_surface"),
            (
                #"{"origin": "cli:alice", "text": "Run it", "force": "detach", "recipe": {"name": "nope"}, "dry_run": true}"#, 422,
                "unknown_recipe"
            ),
            (
                #"{"origin": "cli:alice", "text": "Run it", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "API!"}}, "dry_run": true}"#,
                422, "invalid_recipe_params"
            ),
            (
                #"{"origin": "cli:alice", "text": "Run it", "force": "detach", "recipe": {"name": "noop"}, "contract": {"final_surface": "pager:digest", "delivery_mode": "direct"}, "dry_run": true}"#,
                422, "direct_not_allowed"
            ),
            (#"{"origin": "cli:alice", "text": "Run it", "dry_run": "yes"}"#, 400, "invalid_request"),
            (#"{"origin": "cli:alice", "text": "Run it", "dryrun": true}"#, 400, "invalid_request"),
        ]
        for (body, status, code) in cases {
            let response = await h.submit(body)
            #expect(response.status == status, "\(body)")
            #expect(response.errorCode == code, "\(body)")
        }
        #expect(try await h.store.counts() == Self.empty)
    }
}
