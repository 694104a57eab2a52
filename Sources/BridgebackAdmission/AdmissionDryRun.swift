import BridgebackAdmissionStore
import BridgebackCore
import BridgebackPolicy
import Foundation

/// `POST /v1/requests` with `"dry_run": true`: every check a real submit makes (parse,
/// surfaces, recipe and parameters, the policy decision, contract defaults and validation),
/// then the answer says what *would* happen, including the delivery plan, and nothing is
/// written: no request log line, no job, no outbox row. Always 200 with `"dry_run": true`;
/// refusals keep their real status.
extension AdmissionAPI {
    static let dryRunNote = "dry run: nothing was recorded (no request log line, no job, no outbox row); submit without dry_run to admit it"

    /// Inline: what the assistant would be told; nothing would be delivered later.
    func dryRunInline(_ decision: AdmissionDecision) -> APIResponse {
        var body = dryRunDecisionBody(decision)
        body["human"] = .string("Would answer inline: \(decision.reason)")
        body["delivery"] = .null
        body["notes"] = .array([
            .string("inline: the answer is given in the conversation; nothing would be detached or delivered later"),
            .string(Self.dryRunNote),
        ])
        return APIResponse(status: 200, body: .object(body))
    }

    /// Detach: the contract exactly as it would be written, and how the answer would reach its surface.
    func dryRunDetach(_ contract: OwnershipContract, decision: AdmissionDecision, notes: [String], extraDefaults: [String]) -> APIResponse {
        var body = dryRunDecisionBody(decision)
        body["human"] = .string(wouldLine(contract))
        body["contract"] = Self.json(contract)
        body["defaults_applied"] = .array((contract.defaultsApplied + extraDefaults).map { .string($0) })
        body["delivery"] = deliveryPlan(contract)
        var all = notes
        if let sentence = defaultsSentence(contract, extra: extraDefaults) { all.append(sentence) }
        all.append("the job id in the contract is only an example: a real submit gets its own")
        all.append(Self.dryRunNote)
        body["notes"] = .array(all.map { .string($0) })
        return APIResponse(status: 200, body: .object(body))
    }

    /// A repeated (origin, idempotency key): a real submit would return the existing job.
    func dryRunReplay(_ job: JobRecord) -> APIResponse {
        let body: [String: JSONValue] = [
            "dry_run": true,
            "decision": "detach",
            "idempotent_replay": true,
            "job_id": .string(job.jobID),
            "human": .string(
                "Would return the existing job \(job.jobID) (this idempotency_key was already used); nothing new would be admitted"),
            "contract": Self.json(job.contract),
            "delivery": deliveryPlan(job.contract),
            "notes": .array([.string(Self.dryRunNote)]),
        ]
        return APIResponse(status: 200, body: .object(body))
    }

    /// The decision fields of a real answer, without a request id (nothing was logged).
    private func dryRunDecisionBody(_ decision: AdmissionDecision) -> [String: JSONValue] {
        guard case .object(var body) = decisionBody(decision, requestID: "") else { return [:] }
        body["request_id"] = nil
        body["dry_run"] = true
        return body
    }

    /// "Would detach: …; the answer returns to Alice's terminal (parent-mediated)".
    private func wouldLine(_ contract: OwnershipContract) -> String {
        let line = registry.humanLine(for: contract)
        let prefix = "Detached: "
        return line.hasPrefix(prefix) ? "Would detach: " + line.dropFirst(prefix.count) : "Would detach: " + line
    }

    /// Where the answer would go and how it would be fitted to that surface.
    func deliveryPlan(_ contract: OwnershipContract) -> JSONValue {
        var plan: [String: JSONValue] = [
            "delivery_mode": .string(contract.deliveryMode.rawValue),
            "delivery_mode_name": .string(contract.deliveryMode.humanName),
        ]
        guard let surface = registry[contract.finalSurface] else { return .object(plan) }
        let final = SurfacePlan(surface)
        plan["final_surface"] = Self.jsonValue(final)
        switch contract.deliveryMode {
        case .suppressed:
            plan["summary"] = .string("nothing would be sent: the answer is kept with the job (suppressed)")
        case .parent, .direct:
            plan["summary"] = .string("the answer would go to \(surface.humanName) (\(contract.deliveryMode.humanName)); \(final.fitting)")
        }
        if contract.deliveryMode == .direct {
            let work = registry[contract.workSurface]?.humanName ?? contract.workSurface.rawValue
            plan["fallback"] = .string("if direct delivery fails for good, a notice with the answer goes to \(work)")
        }
        return .object(plan)
    }

    private static func jsonValue(_ value: some Encodable) -> JSONValue {
        guard let data = try? JSONEncoder().encode(value), let json = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return .null
        }
        return json
    }
}
