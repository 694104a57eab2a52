import BridgebackCore
import Foundation
import Testing

@testable import BridgebackMCP

/// How the MCP server reads admission's and the coordinator's answers: as the shared Codable
/// bodies of BridgebackCore, keeping the bytes it shows the model; a refusal as `APIErrorBody`.
@Suite struct FleetAnswerTests {
    static func job(stateNote: String = "cancel requested by alice") throws -> AdmittedJob {
        let contract = OwnershipContract(
            jobID: JobID.make(), origin: try SurfaceID(validating: "cli:alice"), workSurface: try SurfaceID(validating: "work:alice"),
            finalSurface: try SurfaceID(validating: "cli:alice"), deliveryMode: .parent,
            deadline: Date(timeIntervalSince1970: 2_000_000_000),
            policyVersion: "p1", summary: "verify the fix", requestExcerpt: "Verify the fix", parentID: "alice",
            recipe: RecipeInvocation(name: "sleep", params: ["seconds": 3]), createdAt: Date(timeIntervalSince1970: 1_900_000_000),
            completionCapabilitySHA256: String(repeating: "a", count: 64))
        return AdmittedJob(
            jobID: contract.jobID.description, human: "Detached: verify the fix", contract: contract, state: "cancel_requested",
            stateNote: stateNote, createdAt: "2030-03-17T17:46:40.000Z", links: ["self": "/v1/jobs/x"])
    }

    @Test func aCancelAnswerDecodesAsCancelAcceptedAndKeepsItsBytes() throws {
        let answer = CancelAccepted(
            job: try Self.job(), requestedBy: "alice", requestedAt: "2030-03-17T17:46:41.000Z", workersTold: true, note: nil)
        let bytes = try JSONEncoder().encode(answer)
        let read: FleetAnswer<CancelAccepted> = FleetClient.read(status: 202, bytes, service: "admission")
        guard case .ok(let status, let body, let kept) = read else {
            Issue.record("a served cancel answer reads as CancelAccepted: \(read)")
            return
        }
        #expect(status == 202 && body == answer && kept == bytes)
        #expect(body.job.stateNote == "cancel requested by alice" && body.job.contract.workSurface.description == "work:alice")
        // The structured content the model sees is the answer as sent, capability hash absent as on the wire.
        let shown = BridgebackTools.json(kept)
        #expect(shown == (try JSONDecoder().decode(JSONValue.self, from: bytes)))
        #expect(!String(decoding: kept, as: UTF8.self).contains("completion_capability"))
    }

    @Test func anErrorBodyIsARefusalWithItsCodeMessageAndField() throws {
        let bytes = try JSONEncoder().encode(
            APIErrorBody(code: "forbidden", message: "principal 'bob' may not submit as origin 'cli:alice'", field: "origin"))
        let read: FleetAnswer<AdmissionAnswer> = FleetClient.read(status: 403, bytes, service: "admission")
        guard case .refused(403, "forbidden", let message, "origin") = read else {
            Issue.record("a 403 error body is a refusal naming the field: \(read)")
            return
        }
        #expect(message.contains("principal 'bob'"))
        let plain: FleetAnswer<AdmissionAnswer> = FleetClient.read(status: 502, Data("Bad Gateway".utf8), service: "admission")
        guard case .refused(502, "http_502", let text, nil) = plain else {
            Issue.record("a non-JSON error keeps its status: \(plain)")
            return
        }
        #expect(text == "admission answered HTTP 502 Bad Gateway")
    }

    @Test func aSuccessThatIsNotTheRoutesBodyIsRefusedNamingTheField() throws {
        var object = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(try Self.job()))
        guard case .object(var fields) = object else { return }
        fields["state_note"] = nil
        object = .object(fields)
        let read: FleetAnswer<AdmittedJob> = FleetClient.read(status: 200, try JSONEncoder().encode(object), service: "admission")
        guard case .refused(200, "unreadable_answer", let message, nil) = read else {
            Issue.record("a job without state_note is not read as a job: \(read)")
            return
        }
        #expect(message.contains("'state_note' is missing") && message.contains("AdmittedJob"), "\(message)")
        let wrongType: FleetAnswer<OutcomeRecorded> = FleetClient.read(
            status: 200, Data(#"{"request_id":"req_1","recorded":5,"duration_s":1,"succeeded":true}"#.utf8), service: "admission")
        guard case .refused(_, "unreadable_answer", let typeMessage, _) = wrongType else {
            Issue.record("a wrong type is refused: \(wrongType)")
            return
        }
        #expect(typeMessage.contains("recorded"), "\(typeMessage)")
    }
}
