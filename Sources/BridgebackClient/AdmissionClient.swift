import BridgebackCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Posts to admission on behalf of `bridgeback audit`: the audit report as a detached job
/// (`POST /v1/requests`) and inline outcomes (`POST /v1/requests/{id}/outcome`). Requests go
/// through `CLIHTTP`, so `BRIDGEBACK_CA_FILE` applies as for every other command.
public struct AdmissionClient: Sendable {
    /// Admission's base URL (a trailing slash is ignored).
    public let base: String
    /// Sent as `Authorization: Bearer …` (never printed).
    let token: String?

    public init(base: String, token: String?) {
        self.base = base.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.token = token
    }

    /// Admission did not answer at all.
    public struct Unreachable: Error, CustomStringConvertible {
        public var description: String
    }

    /// An answer that was not a 2xx: the status and `code: message` from the error body (or the raw body).
    public struct Refusal: Sendable, Hashable, CustomStringConvertible {
        public var status: Int
        public var message: String
        public var description: String { "HTTP \(status) \(message)" }

        init(status: Int, body: Data) {
            self.status = status
            if let error = try? JSONDecoder().decode(APIErrorBody.self, from: body) {
                message = "\(error.error.code): \(error.error.message)"
            } else {
                message = "error: \(String(decoding: body, as: UTF8.self))"
            }
        }
    }

    // MARK: The audit report

    /// What admission made of a report submitted as a detached job.
    public enum ReportSubmission: Sendable, Hashable {
        /// A new job delivers the report.
        case submitted(jobID: String)
        /// The day's idempotency key was used before: the job that already delivers it.
        case alreadySubmitted(jobID: String)
        case refused(Refusal)
    }

    /// Submits `text` as a detached job whose recipe posts it to `finalSurface`; the idempotency
    /// key `audit-<day>` makes a second run the same day return the first job.
    public func submitReport(
        _ text: String, day: String, origin: String, recipe: String, textParameter: String, finalSurface: String, deliveryMode: String
    ) async throws(Unreachable) -> ReportSubmission {
        let body: JSONValue = [
            "origin": .string(origin),
            "text": .string("Deliver the Bridgeback audit report for \(day)"),
            "force": "detach",
            "idempotency_key": .string("audit-\(day)"),
            "summary": .string("audit report \(day)"),
            "recipe": ["name": .string(recipe), "params": .object([textParameter: .string(text)])],
            "contract": ["final_surface": .string(finalSurface), "delivery_mode": .string(deliveryMode)],
        ]
        let (status, data) = try await post("/v1/requests", body)
        guard (200..<300).contains(status) else { return .refused(Refusal(status: status, body: data)) }
        guard let answer = try? JSONDecoder().decode(AdmissionAnswer.self, from: data), let job = answer.job else {
            return .refused(Refusal(status: status, body: data))
        }
        return answer.idempotentReplay == true ? .alreadySubmitted(jobID: job.jobID) : .submitted(jobID: job.jobID)
    }

    // MARK: Inline outcomes

    /// What became of one line of an outcomes file.
    public enum OutcomeLine: Sendable, Hashable {
        case created
        case replaced
        /// Not sent (not a JSON object, no `request_id`: `requestID` nil) or refused by admission: why, for people.
        case refused(requestID: String?, reason: String)
    }

    /// Posts one line of a JSON-lines outcomes file: its `request_id` names the request, the
    /// other fields are the outcome, passed on as they are (admission checks them).
    public func recordOutcome(line: String) async throws(Unreachable) -> OutcomeLine {
        guard case .object(var object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line.utf8)) else {
            return .refused(requestID: nil, reason: "not a JSON object")
        }
        guard case .string(let id)? = object.removeValue(forKey: "request_id"), !id.isEmpty,
            let encoded = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)
        else {
            return .refused(requestID: nil, reason: "missing or invalid \"request_id\"")
        }
        let (status, data) = try await post("/v1/requests/\(encoded)/outcome", .object(object))
        guard status == 200 else { return .refused(requestID: id, reason: Refusal(status: status, body: data).description) }
        let recorded = try? JSONDecoder().decode(OutcomeRecorded.self, from: data)
        return recorded?.recorded == "replaced" ? .replaced : .created
    }

    /// POSTs JSON; the status and the body. Throws only when no answer came.
    private func post(_ path: String, _ body: JSONValue) async throws(Unreachable) -> (Int, Data) {
        guard let url = URL(string: base + path) else { throw Unreachable(description: "'\(base)' is not a URL") }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            request.httpBody = try JSONEncoder().encode(body)
            let (data, status) = try await CLIHTTP.send(request, timeout: 60)
            return (status, data)
        } catch {
            throw Unreachable(description: error.localizedDescription)
        }
    }
}
