import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// Every numeric and string field of every admission route at its limits, through the real HTTP
/// server (issue 10, item 8): exactly at a limit is accepted (2xx), one step past it is a 4xx
/// whose JSON error names the field. The registry and catalog used here have surfaces, a recipe
/// and parameters whose names are exactly as long as allowed, so "at the limit" means accepted,
/// not merely "refused for another reason".
@Suite("Admission field boundaries over HTTP", .serialized)
struct BoundaryHTTPTests {
    static let longOrigin = "o:" + String(repeating: "o", count: 126)  // 128 bytes, the surface id limit
    static let longWork = "w:" + String(repeating: "w", count: 126)
    static let longFinal = "f:" + String(repeating: "f", count: 126)
    static let longRecipe = String(repeating: "r", count: 64)
    /// 64 parameter names of 64 bytes each.
    static let longParams = (0..<64).map { String(format: "p%02d", $0) + String(repeating: "x", count: 61) }

    static let registryJSON = """
        {"schema": "bridgeback.surfaces.v1", "surfaces": [
          {"id": "cli:alice", "kind": "inbox", "address": "alice", "human_name": "Alice's terminal", "work_surface": "work:alice",
           "direct_allowed": true},
          {"id": "work:alice", "kind": "inbox", "address": "alice.work", "human_name": "Alice's work log"},
          {"id": "\(longOrigin)", "kind": "inbox", "address": "o", "human_name": "a long origin", "work_surface": "\(longWork)"},
          {"id": "\(longWork)", "kind": "inbox", "address": "w", "human_name": "a long work surface"},
          {"id": "\(longFinal)", "kind": "inbox", "address": "f", "human_name": "a long final surface", "direct_allowed": true}
        ]}
        """

    static let catalogJSON: String = {
        let params = longParams.map { #"{"name": "\#($0)", "type": "string", "max_length": 100}"# }.joined(separator: ", ")
        return """
            {"version": 1, "recipes": [
              {"name": "noop", "kind": "command", "argv": ["/bin/true"]},
              {"name": "\(longRecipe)", "kind": "command", "argv": ["/bin/true"], "parameters": [\(params)]}
            ]}
            """
    }()

    /// One kept-alive connection, as an operator whose scope is `*` (limits are checked below authorization).
    final class Client {
        let connection: RawConnection
        /// What did not hold; checked by the test on its own task (an issue recorded on this
        /// client's thread would not be attributed to the test).
        var problems: [String] = []
        init(port: Int) throws { connection = try RawConnection(port: port) }

        func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { problems.append(message()) }
        }

        struct Answer {
            var status: Int
            var object: [String: Any]
            var errorField: String? { (object["error"] as? [String: Any])?["field"] as? String }
            var errorMessage: String { (object["error"] as? [String: Any])?["message"] as? String ?? "" }
            var text: String
        }

        func send(_ method: String, _ path: String, _ body: String? = nil) throws -> Answer {
            var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(TestAuth.wideToken)\r\n"
            if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
            connection.send(head + "\r\n" + (body ?? ""))
            guard let response = connection.readResponse() else { throw RawConnection.Failure(description: "\(method) \(path): no answer") }
            let object = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any] ?? [:]
            return Answer(status: response.status, object: object, text: String(decoding: response.body.prefix(300), as: UTF8.self))
        }
    }

    /// A dry-run detach with `fields` (raw JSON values) merged over a valid request.
    static func submitBody(_ fields: [String: String], dryRun: Bool = true) -> String {
        var base: [String: String] = [
            "origin": #""cli:alice""#, "text": #""Run the release gate for api""#, "force": #""detach""#,
            "recipe": #"{"name": "noop"}"#, "dry_run": dryRun ? "true" : "false",
        ]
        base.merge(fields) { _, new in new }
        return "{" + base.keys.sorted().map { "\"\($0)\": \(base[$0]!)" }.joined(separator: ", ") + "}"
    }

    static func quoted(_ s: String) -> String { "\"\(s)\"" }

    /// Accepted at `at`, refused past it naming `field`.
    static func check(
        _ client: Client, field: String, at: String, past: [String], path: String = "/v1/requests", method: String = "POST",
        body: (String) -> String?
    ) throws {
        let accepted = try client.send(method, path.replacingOccurrences(of: "{}", with: at), body(at))
        client.expect((200..<300).contains(accepted.status), "\(field) at its limit: \(accepted.status) \(accepted.text)")
        for value in past {
            let refused = try client.send(method, path.replacingOccurrences(of: "{}", with: value), body(value))
            client.expect((400..<500).contains(refused.status), "\(field) past its limit (\(value.prefix(40))): \(refused.status)")
            client.expect(refused.errorField == field, "\(field) past its limit (\(value.prefix(40))): \(refused.text)")
        }
    }

    @Test("POST /v1/requests: every numeric and string field at its limit is accepted, one past is a 4xx naming it")
    func submitFields() async throws {
        try await ServedAdmission.with(registryJSON: Self.registryJSON, catalogJSON: Self.catalogJSON) { port, service in
            let maxDeadline = service.api.configuration.maxDeadlineSeconds
            let before = try await service.api.store.counts()
            let problems = try await RawHTTP.onThread { () -> [String] in
                let c = try Client(port: port)
                // Numbers: both ends; "one past" is the next representable double, and the next whole count.
                for hint in ["sources", "steps", "tools"] {
                    try Self.check(c, field: "hints.\(hint)", at: "1000000", past: ["1000001", "\(1_000_000.5.nextUp)", "-1", "1e19"]) {
                        Self.submitBody(["hints": "{\"\(hint)\": \($0)}"])
                    }
                    try Self.check(c, field: "hints.\(hint)", at: "0", past: ["-1", "\((-0.5).nextDown)"]) {
                        Self.submitBody(["hints": "{\"\(hint)\": \($0)}"])
                    }
                }
                try Self.check(c, field: "hints.expected_wait_s", at: "31536000", past: ["\(31_536_000.0.nextUp)", "1e19"]) {
                    Self.submitBody(["hints": "{\"expected_wait_s\": \($0)}"])
                }
                try Self.check(c, field: "hints.expected_wait_s", at: "0", past: ["\((-0.0).nextDown)", "-1"]) {
                    Self.submitBody(["hints": "{\"expected_wait_s\": \($0)}"])
                }
                try Self.check(c, field: "contract.deadline_s", at: "\(maxDeadline)", past: ["\(maxDeadline.nextUp)", "1e19"]) {
                    Self.submitBody(["contract": "{\"deadline_s\": \($0)}"])
                }
                try Self.check(c, field: "contract.deadline_s", at: "0.001", past: ["0", "-0", "\((-0.0).nextDown)"]) {
                    Self.submitBody(["contract": "{\"deadline_s\": \($0)}"])
                }
                // Strings, in UTF-8 bytes: a multi-byte character at the end must count as its bytes.
                func string(_ n: Int, _ c: String = "a") -> String { String(repeating: c, count: n) }
                let text = [Self.quoted(string(60_001)), Self.quoted(string(59_998) + "€"), "\"\""]  // € is 3 bytes: 60,001
                try Self.check(c, field: "text", at: Self.quoted(string(60_000)), past: text) { Self.submitBody(["text": $0]) }
                try Self.check(
                    c, field: "summary", at: Self.quoted(string(1000)), past: [Self.quoted(string(1001)), Self.quoted(string(999) + "é")]
                ) {
                    Self.submitBody(["summary": $0])
                }
                try Self.check(
                    c, field: "idempotency_key", at: Self.quoted(string(200, "k")), past: [Self.quoted(string(201, "k")), "\"\""]
                ) {
                    Self.submitBody(["idempotency_key": $0])
                }
                try Self.check(
                    c, field: "contract.parent_id", at: Self.quoted(string(200, "p")), past: [Self.quoted(string(201, "p")), "\"\""]
                ) {
                    Self.submitBody(["contract": "{\"parent_id\": \($0)}"])
                }
                try Self.check(c, field: "origin", at: Self.quoted(Self.longOrigin), past: [Self.quoted(Self.longOrigin + "o"), "\"\""]) {
                    Self.submitBody(["origin": $0])
                }
                try Self.check(c, field: "contract.work_surface", at: Self.quoted(Self.longWork), past: [Self.quoted(Self.longWork + "w")])
                {
                    Self.submitBody(["contract": "{\"work_surface\": \($0)}"])
                }
                try Self.check(
                    c, field: "contract.final_surface", at: Self.quoted(Self.longFinal), past: [Self.quoted(Self.longFinal + "f")]
                ) {
                    Self.submitBody(["contract": "{\"final_surface\": \($0), \"delivery_mode\": \"direct\"}"])
                }
                try Self.check(
                    c, field: "recipe.name", at: Self.quoted(Self.longRecipe), past: [Self.quoted(Self.longRecipe + "r"), "\"\""]
                ) {
                    Self.submitBody(["recipe": "{\"name\": \($0)}"])
                }
                // 64 parameters of 64-byte names, each value at its declared max_length (100): accepted.
                let all = Self.longParams.map { "\"\($0)\": \"\(string(100, "v"))\"" }.joined(separator: ", ")
                try Self.check(c, field: "recipe.params", at: all, past: [all + ", \"p64\": \"v\""]) {
                    Self.submitBody(["recipe": "{\"name\": \"\(Self.longRecipe)\", \"params\": {\($0)}}"])
                }
                let longName = Self.longParams[0] + "x"
                let refusedName = try c.send(
                    "POST", "/v1/requests",
                    Self.submitBody(["recipe": "{\"name\": \"\(Self.longRecipe)\", \"params\": {\"\(longName)\": \"v\"}}"]))
                c.expect(refusedName.status == 400 && refusedName.errorField?.hasPrefix("recipe.params") == true, "\(refusedName.text)")
                let value = try c.send(
                    "POST", "/v1/requests",
                    Self.submitBody([
                        "recipe": "{\"name\": \"\(Self.longRecipe)\", \"params\": {\"\(Self.longParams[0])\": \"\(string(101, "v"))\"}}"
                    ]))
                c.expect(
                    value.status == 422 && value.errorField == "recipe.params" && value.errorMessage.contains(Self.longParams[0]),
                    "\(value.text)")
                return c.problems
            }
            #expect(problems.isEmpty, "\(problems)")
            // All of that was dry runs and refusals: nothing written.
            #expect(try await service.api.store.counts() == before)
        }
    }

    @Test("jobs, cancel and outcome routes: limit, reason, counts, note and source names at their limits and one past")
    func otherRoutes() async throws {
        try await ServedAdmission.with(registryJSON: Self.registryJSON, catalogJSON: Self.catalogJSON) { port, _ in
            let problems = try await RawHTTP.onThread { () -> [String] in
                let c = try Client(port: port)
                try Self.check(
                    c, field: "limit", at: "500", past: ["501", "0", "-1", "1e19", "abc"], path: "/v1/jobs?limit={}", method: "GET"
                ) { _ in nil }
                try Self.check(c, field: "limit", at: "1", past: ["0"], path: "/v1/jobs?limit={}", method: "GET") { _ in nil }

                // A real job to cancel, and a real inline request to report on.
                let job = try c.send("POST", "/v1/requests", Self.submitBody([:], dryRun: false))
                guard let jobID = job.object["job_id"] as? String else { return ["no job: \(job.text)"] }
                let inline = try c.send("POST", "/v1/requests", #"{"origin": "cli:alice", "text": "what is a canary release?"}"#)
                guard let requestID = inline.object["request_id"] as? String else { return ["no inline request: \(inline.text)"] }

                let reason = String(repeating: "r", count: 1000)
                try Self.check(
                    c, field: "reason", at: reason, past: [reason + "r", String(repeating: "r", count: 999) + "é"],
                    path: "/v1/jobs/\(jobID)/cancel"
                ) {
                    "{\"reason\": \"\($0)\"}"
                }

                let outcome = "/v1/requests/\(requestID)/outcome"
                for count in ["tool_calls", "verification_loops", "follow_ups", "sources"] {
                    try Self.check(c, field: count, at: "999999999", past: ["1000000000", "-1", "1.5", "1e19"], path: outcome) {
                        "{\"duration_s\": 10, \"succeeded\": true, \"\(count)\": \($0)}"
                    }
                }
                try Self.check(
                    c, field: "note", at: String(repeating: "n", count: 2000), past: [String(repeating: "n", count: 2001)], path: outcome
                ) {
                    "{\"duration_s\": 10, \"succeeded\": true, \"note\": \"\($0)\"}"
                }
                try Self.check(
                    c, field: "sources", at: String(repeating: "s", count: 200), past: [String(repeating: "s", count: 201), ""],
                    path: outcome
                ) {
                    "{\"duration_s\": 10, \"succeeded\": true, \"sources\": [\"\($0)\"]}"
                }
                try Self.check(c, field: "duration_s", at: "0", past: ["\((-0.0).nextDown)", "-1", "1e999"], path: outcome) {
                    "{\"duration_s\": \($0), \"succeeded\": true}"
                }
                try Self.check(c, field: "wait_s", at: "10", past: ["\(10.0.nextUp)", "-1"], path: outcome) {
                    "{\"duration_s\": 10, \"wait_s\": \($0), \"succeeded\": true}"
                }
                return c.problems
            }
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}
