import BridgebackPolicy
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

@Suite(
    "Refusals: the right status, a message a person can act on, nothing admitted; contract refusals of detaching requests recorded for the audit"
)
struct RefusalTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var body: String
        var status: Int
        var code: String
        /// A fragment the message must contain (it names the problem and the fix).
        var says: String
        /// True when the policy keeps the request inline: then no contract was refused.
        var keptInline = false
        var testDescription: String { name }
        /// One `contract_refusals` row for a 422 contract/recipe refusal of a request that detaches; none otherwise.
        var recordsRefusal: Bool { status == 422 && !keptInline }
    }

    static let cases: [Case] = [
        Case(
            name: "malformed JSON", body: #"{"origin": "cli:alice", "text": "#, status: 400, code: "malformed_json", says: "not valid JSON"),
        Case(name: "not an object", body: #"["cli:alice"]"#, status: 400, code: "malformed_json", says: "must be a JSON object"),
        Case(
            name: "missing text", body: #"{"origin": "cli:alice"}"#, status: 400, code: "invalid_request",
            says: "\"text\" is required: a string"),
        Case(
            name: "empty text", body: #"{"origin": "cli:alice", "text": "  "}"#, status: 400, code: "invalid_request",
            says: "\"text\" is empty"),
        Case(
            name: "typo in a field", body: #"{"origin": "cli:alice", "text": "x", "contract": {"final_surfce": "cli:alice"}}"#, status: 400,
            code: "invalid_request", says: "\"contract.final_surfce\" is not a known field; did you mean \"final_surface\"?"),
        Case(
            name: "bad force", body: #"{"origin": "cli:alice", "text": "x", "force": "yes"}"#, status: 400, code: "invalid_request",
            says: "\"force\" must be \"inline\" or \"detach\""),
        Case(
            name: "bad hint", body: #"{"origin": "cli:alice", "text": "x", "hints": {"expected_wait_s": "long"}}"#, status: 400,
            code: "invalid_request", says: "\"hints.expected_wait_s\" must be a non-negative number, at most 31536000, got a string"),
        Case(
            name: "bad deadline", body: #"{"origin": "cli:alice", "text": "x", "force": "detach", "contract": {"deadline_s": -5}}"#,
            status: 400, code: "invalid_request", says: "\"contract.deadline_s\" must be a positive number of seconds (e.g. 3600), got -5"),
        Case(
            name: "unknown origin", body: #"{"origin": "cli:bob", "text": "Audit the servers", "force": "detach"}"#, status: 422,
            code: "unknown_surface", says: "origin 'cli:bob' is not in the surface registry; known surfaces: cli:alice"),
        Case(
            name: "unknown final surface",
            body: #"{"origin": "cli:alice", "text": "Audit", "force": "detach", "contract": {"final_surface": "slack:nowhere"}}"#,
            status: 422, code: "unknown_surface", says: "'slack:nowhere' is not in the surface registry"),
        Case(
            name: "unknown surface even when inline", body: #"{"origin": "cli:bob", "text": "What is a canary?"}"#, status: 422,
            code: "unknown_surface", says: "cli:bob", keptInline: true),
        Case(
            name: "missing final surface", body: #"{"origin": "api:anon", "text": "Audit", "force": "detach"}"#, status: 422,
            code: "missing_final_surface", says: "name a final_surface"),
        Case(
            name: "direct not allowed",
            body:
                #"{"origin": "cli:alice", "text": "Audit", "force": "detach", "contract": {"final_surface": "pager:digest", "delivery_mode": "direct"}}"#,
            status: 422, code: "direct_not_allowed", says: "use delivery_mode \"parent\""),
        Case(
            name: "deadline too long",
            body: #"{"origin": "cli:alice", "text": "Audit", "force": "detach", "contract": {"deadline_s": 99999999}}"#, status: 422,
            code: "invalid_contract", says: "longer than the maximum"),
        Case(
            name: "unknown recipe", body: #"{"origin": "cli:alice", "text": "Audit", "force": "detach", "recipe": {"name": "rm-rf"}}"#,
            status: 422, code: "unknown_recipe",
            says: "recipe 'rm-rf' is not in the worker catalog; known recipes: agent, noop, release-gate"),
        Case(
            name: "missing recipe parameter",
            body: #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate"}}"#, status: 422,
            code: "invalid_recipe_params", says: "'service' is required"),
        Case(
            name: "wrong parameter type",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api", "retries": 1.5}}}"#,
            status: 422, code: "invalid_recipe_params", says: "parameter 'retries' must be a whole number, got the number 1.5"),
        Case(
            name: "value not allowed",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api", "env": "dev"}}}"#,
            status: 422, code: "invalid_recipe_params", says: "'env' must be one of \"staging\", \"prod\", got \"dev\""),
        Case(
            name: "pattern mismatch",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "API; rm"}}}"#,
            status: 422, code: "invalid_recipe_params", says: "'service' must match"),
        Case(
            name: "parameter out of range",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api", "retries": 9}}}"#,
            status: 422, code: "invalid_recipe_params", says: "'retries' must be at most 5, got 9"),
        Case(
            name: "several parameter problems at once",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"retries": -1, "env": "dev"}}}"#,
            status: 422, code: "invalid_recipe_params", says: "parameter 'service' is required (string); parameter 'env' must be one of"),
        Case(
            name: "undeclared parameter",
            body:
                #"{"origin": "cli:alice", "text": "Gate", "force": "detach", "recipe": {"name": "release-gate", "params": {"service": "api", "sevrice": "x"}}}"#,
            status: 422, code: "invalid_recipe_params", says: "parameter 'sevrice' is not declared; it takes service, env, retries"),
    ]

    @Test("each bad input", arguments: cases)
    func refused(_ c: Case) async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(c.body)
        #expect(response.status == c.status)
        #expect(response.errorCode == c.code)
        let message = try #require(response.errorMessage)
        #expect(message.contains(c.says), "message was: \(message)")
        #expect(try await h.store.counts() == StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: c.recordsRefusal ? 1 : 0))
        if c.recordsRefusal {
            let row = try #require(try await h.store.contractRefusals().first)
            #expect(row.code == c.code)
            #expect(row.field == response.errorField)
            #expect(row.message == message)
            #expect(row.decision == "detach" && row.forced)
            #expect(row.policyVersion == Fixtures.engine.policy.version)
            #expect(row.id.hasPrefix("ref_"))
            #expect(row.origin == (c.name == "unknown origin" ? "cli:bob" : c.name == "missing final surface" ? "api:anon" : "cli:alice"))
            #expect(["Audit the servers", "Audit", "Gate"].contains(row.excerpt))
        }
    }

    @Test("a contract refusal keeps origin, decision, code, field, message and a bounded excerpt; never a request, job or outbox row")
    func contractRefusalRow() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let text = "Audit every cron job on all 30 servers\nand " + String(repeating: "report each schedule ", count: 40)
        let object: [String: Any] = [
            "origin": "cli:alice", "text": text, "force": "detach",
            "contract": ["final_surface": "pager:digest", "delivery_mode": "direct"],
        ]
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        let response = await h.submit(json)
        #expect(response.status == 422 && response.errorCode == "direct_not_allowed")
        #expect(try await h.store.counts() == StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: 1))
        let rows = try await h.store.contractRefusals()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.origin == "cli:alice" && row.code == "direct_not_allowed" && row.field == "delivery_mode")
        #expect(row.message == response.errorMessage)
        #expect(row.excerpt.count <= ContractRefusalRecord.excerptLimit)
        #expect(row.excerpt.hasPrefix("Audit every cron job on all 30 servers and report each schedule"))
        #expect(row.excerpt.hasSuffix("…") && !row.excerpt.contains("\n"))
        #expect(row.decision == "detach" && row.forced && row.policyVersion == Fixtures.engine.policy.version)
    }

    @Test("a request the policy detaches on its own is recorded with its triggers when its recipe is refused")
    func unforcedDetachRecordsTriggers() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let text = "Audit the cron jobs on every host and report back"
        let decision = Fixtures.engine.decide(AdmissionRequest(text: text, hints: nil))
        try #require(decision.decision == .detach, "the fixture text must detach: \(decision.reason)")
        let response = await h.submit(#"{"origin": "cli:alice", "text": "\#(text)", "recipe": {"name": "nope"}}"#)
        #expect(response.status == 422 && response.errorCode == "unknown_recipe")
        let row = try #require(try await h.store.contractRefusals().first)
        #expect(!row.forced && row.triggers == decision.triggers.map(\.rawValue) && row.field == "recipe.name")
    }

    @Test("a recipe refused for a request that stays inline is not recorded: no contract was refused")
    func inlineRecipeRefusalNotRecorded() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "What is a canary?", "recipe": {"name": "nope"}}"#)
        #expect(response.status == 422 && response.errorCode == "unknown_recipe")
        #expect(try await h.store.counts() == StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: 0))
    }

    @Test("when the refusal cannot be recorded the 422 is still answered, never a 503")
    func unrecordableRefusalStays422() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        try await h.store.writer.write { db in try db.execute(sql: "DROP TABLE contract_refusals") }
        let response = await h.submit(
            #"{"origin": "cli:alice", "text": "Audit", "force": "detach", "contract": {"final_surface": "pager:digest", "delivery_mode": "direct"}}"#
        )
        #expect(response.status == 422)
        #expect(response.errorCode == "direct_not_allowed")
    }

    @Test("a detach with no recipe and no default is refused with the known recipes")
    func noDefaultRecipe() async throws {
        let catalog = try RecipeCatalogView.parse(Data(#"{"recipes": [{"name": "noop", "kind": "command"}]}"#.utf8))
        let h = try Harness(catalog: catalog)
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "Audit every cron job", "force": "detach"}"#)
        #expect(response.status == 422)
        #expect(response.errorCode == "unknown_recipe")
        #expect(response.errorMessage?.contains("names no recipe") == true)
        #expect(response.errorMessage?.contains("known recipes: noop") == true)
        #expect(try await h.store.counts() == StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: 1))
        #expect(try await h.store.contractRefusals().first?.code == "unknown_recipe")
    }

    @Test("an oversized body is 413 and nothing is written, not even a refusal")
    func oversized() async throws {
        let h = try Harness(configuration: .init(maxBodyBytes: 2048))
        defer { h.dir.cleanup() }
        let text = String(repeating: "a", count: 4096)
        let response = await h.submit(#"{"origin": "cli:alice", "text": "\#(text)", "force": "detach"}"#)
        #expect(response.status == 413)
        #expect(response.errorCode == "body_too_large")
        #expect(response.errorMessage?.contains("2048 bytes") == true)
        #expect(try await h.store.counts() == StoreCounts(requests: 0, jobs: 0, outbox: 0, unsent: 0, refusals: 0))
    }
}
