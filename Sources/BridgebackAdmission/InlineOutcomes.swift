import BridgebackAdmissionStore
public import BridgebackAuth
import BridgebackCore
import Foundation

extension AdmissionAPI {
    static let outcomeFields = ["duration_s", "succeeded", "tool_calls", "wait_s", "sources", "verification_loops", "follow_ups", "note"]

    /// `POST /v1/requests/{id}/outcome`: records how an inline turn went, for the audit.
    ///
    /// 400 for a body that is not an outcome, 404 for a request id never logged here, 422 for
    /// an outcome that cannot describe its request (a detached one, or waiting longer than the
    /// whole turn). A second report replaces the first.
    ///
    /// Only for a request asked in an origin `principal` may see (its own, or any for an operator).
    public func reportOutcome(requestID: String, body: [UInt8], as principal: Principal) async -> APIResponse {
        do throws(AdmissionError) {
            let outcome = try Self.parseOutcome(requestID: requestID, body: body, at: Date())
            let entry: RequestLogEntry?
            do { entry = try await store.request(id: requestID) } catch {
                throw AdmissionError(
                    .storeFailure, "the admission store is unavailable (\(error)); nothing was recorded, send the outcome again")
            }
            guard let entry, !entry.replay, principal.maySee(jobOrigin: entry.origin) else {
                throw AdmissionError(
                    .notFound, "no request '\(requestID)' was logged here; use the request_id from the POST /v1/requests reply", field: "id"
                )
            }
            guard entry.decision == "inline" else {
                throw AdmissionError(
                    .invalidOutcome,
                    "request \(requestID) was detached as job \(entry.jobID ?? "?"); outcomes describe inline turns, and a job's ending is in the coordinator's ledger",
                    field: "id")
            }
            let replaced: Bool
            do { replaced = try await store.recordOutcome(outcome) } catch {
                throw AdmissionError(
                    .storeFailure, "the admission store is unavailable (\(error)); nothing was recorded, send the outcome again")
            }
            let reply = OutcomeRecorded(
                requestID: requestID, recorded: replaced ? "replaced" : "created", durationS: outcome.durationSeconds,
                succeeded: outcome.succeeded, sources: outcome.sources)
            return APIResponse(status: 200, typed: reply)
        } catch {
            return .error(error)
        }
    }

    /// Reads an outcome body through the schema layer, failing on the first problem.
    static func parseOutcome(requestID: String, body: [UInt8], at: Date) throws(AdmissionError) -> InlineOutcomeRecord {
        let root = try SubmitRequest.strictJSON(body)
        guard case .object = root else {
            throw AdmissionError(
                .malformedJSON,
                "the body must be a JSON object such as {\"duration_s\": 412, \"succeeded\": true, \"tool_calls\": 9, \"wait_s\": 300, \"sources\": [\"grafana\", \"pagerduty\"]}"
            )
        }
        let record: InlineOutcomeRecord
        do {
            record = try readOutcome(root, requestID: requestID, at: at, reader: SchemaReader(mode: .failFast, rootName: "the outcome"))
        } catch {
            // The message names the element (`sources[2]`); the API's `field` stays the field itself.
            throw AdmissionError(.invalidRequest, error.message, field: error.topField.isEmpty ? nil : error.topField)
        }
        if let wait = record.waitSeconds, wait > record.durationSeconds {
            throw AdmissionError(
                .invalidOutcome,
                "'wait_s' (\(wait)) is longer than the whole turn ('duration_s' \(record.durationSeconds)); send the time spent waiting within the turn",
                field: "wait_s")
        }
        return record
    }

    private static func readOutcome(_ root: JSONValue, requestID: String, at: Date, reader: SchemaReader) throws(SchemaProblem)
        -> InlineOutcomeRecord
    {
        // The reader fails fast: a required field that reads as nil has already thrown.
        guard let o = try reader.object(root, at: "", known: outcomeFields) else { throw reader.lastProblem(at: "") }
        let seconds = "a non-negative number of seconds"
        guard
            let duration = try o.number(
                "duration_s", required: true, bounds: .nonNegative(), expected: "\(seconds) (how long the inline turn took)")
        else { throw reader.lastProblem(at: "duration_s") }
        guard let succeeded = try o.bool("succeeded", required: true) else { throw reader.lastProblem(at: "succeeded") }
        func count(_ key: String, expected: String = "a non-negative integer") throws(SchemaProblem) -> Int? {
            try o.integer(key, range: 0...999_999_999, expected: expected)
        }
        var sources: Int?
        var names: [String] = []
        if case .array? = o["sources"] {
            for (path, item) in try o.array("sources") ?? [] {
                if let name = try reader.string(
                    item, at: path, required: true, length: .characters(1...200), expected: "a source name (a non-empty string)")
                {
                    names.append(name)
                }
            }
            sources = names.count
        } else {
            sources = try count("sources", expected: "a count or a list of source names (non-empty strings up to 200 characters)")
        }
        let note = try o.string("note", length: .characters(0...2000))
        let wait = try o.number("wait_s", bounds: .nonNegative(), expected: seconds)
        return InlineOutcomeRecord(
            requestID: requestID, durationSeconds: duration, toolCalls: try count("tool_calls"), waitSeconds: wait, sources: sources,
            sourceNames: names, verificationLoops: try count("verification_loops"), followUps: try count("follow_ups"),
            succeeded: succeeded, note: note, reportedAt: at)
    }
}
