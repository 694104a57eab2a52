public import Foundation

/// One request-log line as the audit sees it: plain values, no database types.
public struct AuditRequest: Sendable, Hashable, Codable {
    public var id: String
    public var origin: String
    public var text: String
    /// The hints as received (JSON text), if any.
    public var hintsJSON: String?
    public var decision: String
    public var forced: Bool
    public var triggers: [String]
    public var reason: String
    public var policyVersion: String
    public var receivedAt: Date
    public var jobID: String?
    public var replay: Bool

    public init(
        id: String, origin: String, text: String, hintsJSON: String? = nil, decision: String, forced: Bool = false,
        triggers: [String] = [], reason: String = "", policyVersion: String = "", receivedAt: Date, jobID: String? = nil,
        replay: Bool = false
    ) {
        self.id = id
        self.origin = origin
        self.text = text
        self.hintsJSON = hintsJSON
        self.decision = decision
        self.forced = forced
        self.triggers = triggers
        self.reason = reason
        self.policyVersion = policyVersion
        self.receivedAt = receivedAt
        self.jobID = jobID
        self.replay = replay
    }
}

/// How an inline turn went, as the assistant runtime reported it (`POST /v1/requests/{id}/outcome`).
///
/// Every shape field is optional: a runtime reports what it knows, and the audit says when
/// what is missing stops it from judging a turn (an `audit_reporting_gap`).
public struct InlineOutcome: Sendable, Hashable, Codable {
    public var requestID: String
    public var durationSeconds: Double
    public var toolCalls: Int?
    public var waitSeconds: Double?
    public var sources: Int?
    public var sourceNames: [String]
    public var verificationLoops: Int?
    public var followUps: Int?
    public var succeeded: Bool
    public var note: String?
    public var reportedAt: Date

    public init(
        requestID: String, durationSeconds: Double, toolCalls: Int? = nil, waitSeconds: Double? = nil, sources: Int? = nil,
        sourceNames: [String] = [], verificationLoops: Int? = nil, followUps: Int? = nil, succeeded: Bool, note: String? = nil,
        reportedAt: Date = Date(timeIntervalSince1970: 0)
    ) {
        self.requestID = requestID
        self.durationSeconds = durationSeconds
        self.toolCalls = toolCalls
        self.waitSeconds = waitSeconds
        self.sources = sources
        self.sourceNames = sourceNames
        self.verificationLoops = verificationLoops
        self.followUps = followUps
        self.succeeded = succeeded
        self.note = note
        self.reportedAt = reportedAt
    }
}

/// A job as admission recorded it (before the broker): state and whether it was published.
public struct AdmissionJob: Sendable, Hashable, Codable {
    public var jobID: String
    public var requestID: String
    /// `accepted`, `published` or `cancel_requested`.
    public var state: String
    public var finalSurface: String
    public var createdAt: Date
    public var publishedAt: Date?
    /// The last outbox error for this job, if a publish failed.
    public var lastOutboxError: String?

    public init(
        jobID: String, requestID: String, state: String, finalSurface: String, createdAt: Date, publishedAt: Date? = nil,
        lastOutboxError: String? = nil
    ) {
        self.jobID = jobID
        self.requestID = requestID
        self.state = state
        self.finalSurface = finalSurface
        self.createdAt = createdAt
        self.publishedAt = publishedAt
        self.lastOutboxError = lastOutboxError
    }
}

/// A job as the coordinator's ledger has it: how it ended and how its delivery went.
public struct LedgerJob: Sendable, Hashable, Codable {
    public var jobID: String
    /// `JobLifecycle.State.name`: awaiting_contract, completion_parked, awaiting_completion, delivering, finished.
    public var state: String
    /// `result`, `failure`, `cancelled` or `lost` once decided.
    public var endingKind: String?
    /// The ending's text (a failure reason, for example), shortened.
    public var endingText: String?
    /// delivered | failed | uncertain | suppressed | undeliverable.
    public var finalOutcome: String?
    public var finalDetail: String?
    /// Completions dropped as duplicates (the worker ran the job more than once).
    public var duplicates: Int
    /// Delivery parts that went to the fallback surface.
    public var fallbackParts: Int
    /// Failure kinds of parts that did not deliver, sorted.
    public var partFailures: [String]
    /// The coordinator's sentence for each failed part ("<detail> (<kind>)"), shown instead of bare kinds.
    public var partFailureDetails: [String] = []
    /// How long the worker ran the job (its completion's `finished_at - started_at`), when the
    /// ending came from a completion: what tells a quick job that need not have detached.
    public var runSeconds: Double?

    public init(
        jobID: String, state: String, endingKind: String? = nil, endingText: String? = nil, finalOutcome: String? = nil,
        finalDetail: String? = nil, duplicates: Int = 0, fallbackParts: Int = 0, partFailures: [String] = []
    ) {
        self.jobID = jobID
        self.state = state
        self.endingKind = endingKind
        self.endingText = endingText
        self.finalOutcome = finalOutcome
        self.finalDetail = finalDetail
        self.duplicates = duplicates
        self.fallbackParts = fallbackParts
        self.partFailures = partFailures
    }
}

/// A request admission refused a contract for (`contract_refusals`): it would have detached,
/// but its contract or recipe was refused with a 422, so no job exists.
public struct ContractRefusal: Sendable, Hashable, Codable {
    public var id: String
    public var at: Date
    public var origin: String
    /// The request text as admission kept it (at most 280 characters).
    public var excerpt: String
    public var decision: String
    public var forced: Bool
    public var triggers: [String]
    public var policyVersion: String
    /// The refusal code, e.g. `direct_not_allowed`, `unknown_recipe`.
    public var code: String
    public var field: String?
    public var message: String

    public init(
        id: String, at: Date, origin: String, excerpt: String, decision: String = "detach", forced: Bool = false, triggers: [String] = [],
        policyVersion: String = "", code: String, field: String? = nil, message: String
    ) {
        self.id = id
        self.at = at
        self.origin = origin
        self.excerpt = excerpt
        self.decision = decision
        self.forced = forced
        self.triggers = triggers
        self.policyVersion = policyVersion
        self.code = code
        self.field = field
        self.message = message
    }
}

/// Everything the audit reads, as plain records; what the pure `Auditor` works on.
public struct AuditRecords: Sendable, Hashable {
    public var requests: [AuditRequest]
    public var outcomes: [String: InlineOutcome]
    public var jobs: [String: AdmissionJob]
    /// Nil when no ledger was read (then detach endings cannot be judged).
    public var ledger: [String: LedgerJob]?
    /// Contracts admission refused in the window (requests that would have detached).
    public var refusals: [ContractRefusal]
    /// Things the loader could not read, said plainly (shown in the report).
    public var notes: [String]

    public init(
        requests: [AuditRequest], outcomes: [String: InlineOutcome] = [:], jobs: [String: AdmissionJob] = [:],
        ledger: [String: LedgerJob]? = [:], refusals: [ContractRefusal] = [], notes: [String] = []
    ) {
        self.requests = requests
        self.outcomes = outcomes
        self.jobs = jobs
        self.ledger = ledger
        self.refusals = refusals
        self.notes = notes
    }
}
