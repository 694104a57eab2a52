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
        let body = dryRunAnswer(
            decision, human: "Would answer inline: \(decision.reason)", delivery: nil,
            notes: ["inline: the answer is given in the conversation; nothing would be detached or delivered later", Self.dryRunNote])
        return APIResponse(status: 200, typed: body)
    }

    /// Detach: the contract exactly as it would be written, and how the answer would reach its surface.
    func dryRunDetach(_ contract: OwnershipContract, decision: AdmissionDecision, notes: [String], extraDefaults: [String]) -> APIResponse {
        var all = notes
        if let sentence = defaultsSentence(contract, fields: contract.defaultsApplied + extraDefaults) { all.append(sentence) }
        all.append("the job id in the contract is only an example: a real submit gets its own")
        all.append(Self.dryRunNote)
        var body = dryRunAnswer(decision, human: wouldLine(contract), delivery: deliveryPlan(contract), notes: all)
        body.contract = contract
        body.defaultsApplied = contract.defaultsApplied + extraDefaults
        return APIResponse(status: 200, typed: body)
    }

    /// A repeated (origin, idempotency key): a real submit would return the existing job.
    func dryRunReplay(_ job: JobRecord) -> APIResponse {
        let body = DryRunAnswer(
            decision: "detach",
            human: "Would return the existing job \(job.jobID) (this idempotency_key was already used); nothing new would be admitted",
            contract: job.contract, delivery: deliveryPlan(job.contract), notes: [Self.dryRunNote], idempotentReplay: true,
            jobID: job.jobID)
        return APIResponse(status: 200, typed: body)
    }

    /// The decision fields of a real answer, without a request id (nothing was logged).
    private func dryRunAnswer(_ decision: AdmissionDecision, human: String, delivery: DeliveryPlan?, notes: [String]) -> DryRunAnswer {
        let real = answer(decision, requestID: "")
        return DryRunAnswer(
            decision: real.decision, triggers: real.triggers, reason: real.reason, policyVersion: real.policyVersion, forced: real.forced,
            confidence: real.confidence, human: human, delivery: delivery, notes: notes)
    }

    /// "Would detach: …; the answer returns to Alice's terminal (parent-mediated)".
    private func wouldLine(_ contract: OwnershipContract) -> String {
        let line = registry.humanLine(for: contract)
        let prefix = "Detached: "
        return line.hasPrefix(prefix) ? "Would detach: " + line.dropFirst(prefix.count) : "Would detach: " + line
    }

    /// Where the answer would go and how it would be fitted to that surface.
    func deliveryPlan(_ contract: OwnershipContract) -> DeliveryPlan {
        var plan = DeliveryPlan(deliveryMode: contract.deliveryMode.rawValue, deliveryModeName: contract.deliveryMode.humanName)
        guard let surface = registry[contract.finalSurface] else { return plan }
        let final = SurfacePlan(surface)
        plan.finalSurface = final
        switch contract.deliveryMode {
        case .suppressed:
            plan.summary = "nothing would be sent: the answer is kept with the job (suppressed)"
        case .parent, .direct:
            plan.summary = "the answer would go to \(surface.humanName) (\(contract.deliveryMode.humanName)); \(final.fitting)"
        }
        if contract.deliveryMode == .direct {
            let work = registry[contract.workSurface]?.humanName ?? contract.workSurface.rawValue
            plan.fallback = "if direct delivery fails for good, a notice with the answer goes to \(work)"
        }
        return plan
    }
}
