import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// `POST /v1/requests/{id}/outcome`: inline outcomes for the audit, validated like every other body.
@Suite struct OutcomeTests {
    func inlineRequest(_ h: Harness) async throws -> String {
        let reply = await h.submit(#"{"origin": "cli:alice", "text": "what is a canary release?"}"#)
        #expect(reply.status == 200)
        guard case .string(let id)? = reply["request_id"] else { throw TestFailure("no request_id: \(reply)") }
        return id
    }

    @Test func anOutcomeIsStoredBesideTheDecisionAndASecondReportReplacesIt() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let id = try await inlineRequest(h)
        let first = await h.api.reportOutcome(
            requestID: id,
            body: Array(
                #"{"duration_s": 412.5, "succeeded": true, "tool_calls": 9, "wait_s": 300, "sources": ["grafana", "pagerduty", "slack"], "follow_ups": 1, "note": "x"}"#
                    .utf8), as: .testOperator)
        #expect(first.status == 200)
        #expect(first["recorded"] == .string("created"))
        #expect(first["sources"] == .number(3))
        let stored = try #require(try await h.store.outcome(requestID: id))
        #expect(stored.durationSeconds == 412.5 && stored.toolCalls == 9 && stored.waitSeconds == 300 && stored.followUps == 1)
        #expect(stored.sourceNames == ["grafana", "pagerduty", "slack"])
        let second = await h.api.reportOutcome(
            requestID: id, body: Array(#"{"duration_s": 5, "succeeded": false, "sources": 2}"#.utf8), as: .testOperator)
        #expect(second["recorded"] == .string("replaced"))
        #expect(try await h.store.outcome(requestID: id)?.sources == 2)
    }

    @Test func badOutcomesAreRefusedWithACodeAndAMessageAndWriteNothing() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let id = try await inlineRequest(h)
        let cases: [(String, String, Int, String, String)] = [
            (id, "not json", 400, "malformed_json", "JSON object"),
            (id, #"{"succeeded": true}"#, 400, "invalid_request", "\"duration_s\" is required: a non-negative number of seconds"),
            (id, #"{"duration_s": 3}"#, 400, "invalid_request", "\"succeeded\" is required: true or false"),
            (id, #"{"duration_s": -1, "succeeded": true}"#, 400, "invalid_request", "non-negative"),
            (
                id, #"{"duration_s": 3, "succeeded": true, "tools": 4}"#, 400, "invalid_request",
                "\"tools\" is not a known field; known fields: duration_s, succeeded, tool_calls"
            ),
            (
                id, #"{"duration_s": 3, "succeeded": true, "tool_calls": 2.5}"#, 400, "invalid_request",
                "\"tool_calls\" must be a non-negative integer, got 2.5"
            ),
            (
                id, #"{"duration_s": 3, "succeeded": true, "sources": [1]}"#, 400, "invalid_request",
                "\"sources[0]\" must be a source name (a non-empty string), got 1"
            ),
            (id, #"{"duration_s": 30, "succeeded": true, "wait_s": 60}"#, 422, "invalid_outcome", "longer than the whole turn"),
            ("req_01NOSUCHREQUEST", #"{"duration_s": 3, "succeeded": true}"#, 404, "not_found", "no request 'req_01NOSUCHREQUEST'"),
        ]
        for (request, body, status, code, message) in cases {
            let reply = await h.api.reportOutcome(requestID: request, body: Array(body.utf8), as: .testOperator)
            #expect(reply.status == status, "\(body)")
            #expect(reply.errorCode == code, "\(body)")
            #expect(reply.errorMessage?.contains(message) == true, "\(body): \(reply.errorMessage ?? "")")
        }
        #expect(try await h.store.outcome(requestID: id) == nil)
    }

    @Test func aDetachedRequestTakesNoInlineOutcome() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let reply = await h.submit(#"{"origin": "cli:alice", "text": "verify the backups on all 30 servers"}"#)
        #expect(reply.status == 202)
        guard case .string(let id)? = reply["request_id"] else { throw TestFailure("no request_id") }
        let refused = await h.api.reportOutcome(
            requestID: id, body: Array(#"{"duration_s": 3, "succeeded": true}"#.utf8), as: .testOperator)
        #expect(refused.status == 422)
        #expect(refused.errorCode == "invalid_outcome")
        #expect(refused.errorMessage?.contains("was detached as job") == true)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
