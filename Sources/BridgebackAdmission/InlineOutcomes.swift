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

    static func parseOutcome(requestID: String, body: [UInt8], at: Date) throws(AdmissionError) -> InlineOutcomeRecord {
        let root = try SubmitRequest.strictJSON(body)
        guard case .object(let o) = root else {
            throw AdmissionError(
                .malformedJSON,
                "the body must be a JSON object such as {\"duration_s\": 412, \"succeeded\": true, \"tool_calls\": 9, \"wait_s\": 300, \"sources\": [\"grafana\", \"pagerduty\"]}"
            )
        }
        for key in o.keys.sorted() where !outcomeFields.contains(key) {
            throw AdmissionError(
                .invalidRequest, "unknown field '\(key)'; an outcome has \(outcomeFields.joined(separator: ", "))", field: key)
        }
        func number(_ key: String) throws(AdmissionError) -> Double? {
            switch o[key] {
            case nil, .null?: return nil
            case .number(let x)? where x.isFinite && x >= 0: return x
            default: throw AdmissionError(.invalidRequest, "'\(key)' must be a non-negative number of seconds", field: key)
            }
        }
        func count(_ key: String) throws(AdmissionError) -> Int? {
            switch o[key] {
            case nil, .null?: return nil
            case .number(let x)? where x >= 0 && x == x.rounded() && x < 1e9: return Int(x)
            default: throw AdmissionError(.invalidRequest, "'\(key)' must be a non-negative integer", field: key)
            }
        }
        guard let duration = try number("duration_s") else {
            throw AdmissionError(
                .invalidRequest, "'duration_s' is required: how long the inline turn took, in seconds", field: "duration_s")
        }
        guard case .bool(let succeeded)? = o["succeeded"] else {
            throw AdmissionError(.invalidRequest, "'succeeded' is required and must be true or false", field: "succeeded")
        }
        var sources: Int?
        var names: [String] = []
        switch o["sources"] {
        case nil, .null?: break
        case .array(let items)?:
            for item in items {
                guard case .string(let name) = item, !name.isEmpty, name.count <= 200 else {
                    throw AdmissionError(
                        .invalidRequest, "'sources' must be a count or a list of source names (non-empty strings up to 200 characters)",
                        field: "sources")
                }
                names.append(name)
            }
            sources = names.count
        default: sources = try count("sources")
        }
        var note: String?
        switch o["note"] {
        case nil, .null?: break
        case .string(let text)? where text.count <= 2000: note = text
        default: throw AdmissionError(.invalidRequest, "'note' must be a string of at most 2000 characters", field: "note")
        }
        let wait = try number("wait_s")
        if let wait, wait > duration {
            throw AdmissionError(
                .invalidOutcome,
                "'wait_s' (\(wait)) is longer than the whole turn ('duration_s' \(duration)); send the time spent waiting within the turn",
                field: "wait_s")
        }
        return InlineOutcomeRecord(
            requestID: requestID, durationSeconds: duration, toolCalls: try count("tool_calls"), waitSeconds: wait, sources: sources,
            sourceNames: names, verificationLoops: try count("verification_loops"), followUps: try count("follow_ups"),
            succeeded: succeeded,
            note: note, reportedAt: at)
    }
}
