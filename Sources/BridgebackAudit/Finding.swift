public import Foundation

/// The one class each finding gets; it decides the response, so it is chosen before any action.
public enum FindingClass: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case triggerWordingGap = "trigger_wording_gap"
    case helperContractGap = "helper_contract_gap"
    case auditReportingGap = "audit_reporting_gap"
    case falsePositiveCalibration = "false_positive_calibration"

    /// What the class means, for the report.
    public var meaning: String {
        switch self {
        case .triggerWordingGap:
            "The request had the shape of a trigger class (its outcome shows it), but no cue fired strongly enough to detach it."
        case .helperContractGap:
            "The job detached, or was refused a contract, but the worker or delivery contract was missing or unclear: it did not end with one clean delivery."
        case .auditReportingGap:
            "The audit could not judge this from what was recorded."
        case .falsePositiveCalibration:
            "It looked long-work-shaped, but was safely small: the policy detached a job that finished in seconds or that the labelled corpus says stays inline (over-detach), or the audit's count signals flagged a quick inline turn."
        }
    }

    /// The response the class calls for.
    public var response: String {
        switch self {
        case .triggerWordingGap:
            "Add the named cue to a candidate policy (`bridgeback audit --propose FILE`), add the request as a labelled row, score the candidate with `bridgeback classify --eval`, and install it only after review."
        case .helperContractGap:
            "Fix the recipe, deadline, surface or delivery settings the evidence names; this is not a policy change."
        case .auditReportingGap:
            "Make the runtime report what is missing (POST /v1/requests/{id}/outcome) or give the audit the missing store; this is not a policy change."
        case .falsePositiveCalibration:
            "Over-detach: weaken the detach cue the finding names or add an inline cue for the shape, add the request as an inline labelled row, and score the candidate with `bridgeback classify --eval`. A flagged inline turn: tune the audit's thresholds in audit.json, not the policy."
        }
    }

    public static func < (lhs: FindingClass, rhs: FindingClass) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// What the audit found the record to be, before classifying it.
public enum FindingKind: String, Sendable, Hashable, Codable {
    /// Handled inline, but the outcome looks like long work.
    case candidate
    /// Detached (or refused a contract), but the job did not end with one clean delivery.
    case detachFailure = "detach_failure"
    /// The records miss what the audit needs to judge.
    case reportingHole = "reporting_hole"
    /// Detached and delivered cleanly, but the job was quick (or the corpus labels the request
    /// inline): it need not have left the conversation.
    case overDetach = "over_detach"
}

/// A cue the audit derived from a missed request's wording.
public struct CandidateCue: Sendable, Hashable, Codable {
    /// The detach family it would join.
    public var family: String
    public var id: String
    /// ICU pattern in policy syntax (may start with `{{clause}}`).
    public var pattern: String
    public var weight: Double
    public var trigger: String?
    /// True when adding it alone makes the request detach under the current policy.
    public var catchesRequest: Bool

    public init(family: String, id: String, pattern: String, weight: Double, trigger: String?, catchesRequest: Bool) {
        self.family = family
        self.id = id
        self.pattern = pattern
        self.weight = weight
        self.trigger = trigger
        self.catchesRequest = catchesRequest
    }
}

/// One thing the audit found, with its class and the evidence a person needs to check it.
public struct Finding: Sendable, Hashable, Codable {
    public var kind: FindingKind
    public var findingClass: FindingClass
    public var requestID: String
    public var jobID: String?
    public var origin: String
    public var receivedAt: Date
    /// The request text, shortened.
    public var excerpt: String
    /// How admission decided it: decision, policy version, reason.
    public var decision: String
    public var policyVersion: String
    public var reason: String
    /// One line: what happened to the request.
    public var whatHappened: String
    /// The facts behind the class, one per line.
    public var evidence: [String]
    /// The response for this finding (specific; the class's general response is in the report).
    public var suggestion: String
    /// For a trigger wording gap: the trigger class the outcome's shape indicates.
    public var indicatedTrigger: String?
    /// For a trigger wording gap: cues that would have caught it, most general first.
    public var candidateCues: [CandidateCue]

    public init(
        kind: FindingKind, findingClass: FindingClass, request: AuditRequest, jobID: String? = nil, whatHappened: String,
        evidence: [String], suggestion: String, indicatedTrigger: String? = nil, candidateCues: [CandidateCue] = []
    ) {
        self.kind = kind
        self.findingClass = findingClass
        self.requestID = request.id
        self.jobID = jobID ?? request.jobID
        self.origin = request.origin
        self.receivedAt = request.receivedAt
        self.excerpt = Self.excerpt(request.text)
        self.decision = request.decision + (request.forced ? " (forced)" : "")
        self.policyVersion = request.policyVersion
        self.reason = request.reason
        self.whatHappened = whatHappened
        self.evidence = evidence
        self.suggestion = suggestion
        self.indicatedTrigger = indicatedTrigger
        self.candidateCues = candidateCues
    }

    /// A finding about a contract admission refused: there is no request log line or job, so
    /// the refusal's id stands in for the request id.
    public init(
        kind: FindingKind, findingClass: FindingClass, refusal: ContractRefusal, whatHappened: String, evidence: [String],
        suggestion: String
    ) {
        self.kind = kind
        self.findingClass = findingClass
        self.requestID = refusal.id
        self.jobID = nil
        self.origin = refusal.origin
        self.receivedAt = refusal.at
        self.excerpt = Self.excerpt(refusal.excerpt)
        self.decision = "refused (" + refusal.decision + (refusal.forced ? ", forced" : "") + ")"
        self.policyVersion = refusal.policyVersion
        self.reason = "\(refusal.code): \(refusal.message)"
        self.whatHappened = whatHappened
        self.evidence = evidence
        self.suggestion = suggestion
        self.indicatedTrigger = nil
        self.candidateCues = []
    }

    /// At most 160 characters on one line.
    public static func excerpt(_ text: String, limit: Int = 160) -> String {
        let flat = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}
