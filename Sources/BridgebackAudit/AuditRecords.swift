public import BridgebackAdmissionStore
public import Foundation

/// One request-log line: admission's own record type (`BridgebackAdmissionStore`), read through
/// its read-only query API, so a change to it breaks the audit at compile time.
public typealias AuditRequest = RequestLogEntry

/// How an inline turn went, as the assistant runtime reported it (`POST /v1/requests/{id}/outcome`):
/// admission's own record. Every shape field is optional; the audit says when what is missing
/// stops it from judging a turn (an `audit_reporting_gap`).
public typealias InlineOutcome = InlineOutcomeRecord

/// A request admission refused a contract for (`contract_refusals`): it would have detached,
/// but its contract or recipe was refused with a 422, so no job exists. Admission's own record.
public typealias ContractRefusal = ContractRefusalRecord

/// A job as admission recorded it (before the broker): state and whether it was published; what
/// the audit takes from admission's `JobRecord`.
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

/// A job as the coordinator's ledger has it: how it ended and how its delivery went; what the
/// audit takes from the ledger's `LedgerJobRow` and `LedgerPartRow`s.
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
