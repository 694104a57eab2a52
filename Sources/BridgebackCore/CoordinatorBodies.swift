import Foundation

// The coordinator status API's answers that are not a job's delivery status (`JobDeliveryStatus`,
// `DeliveryList`): one Codable type each, written by the coordinator and read by admission, the
// CLI and the tests. Keys snake_case, timestamps RFC 3339 strings (`WireDate`).

/// The coordinator's 202 answer to `POST /v1/jobs/{id}/cancel` (OpenAPI `CancelAccepted`):
/// the job now ends `cancelled`, who asked and when, and whether the workers were told.
///
/// Admission copies its `requested_by`, `requested_at`, `workers_told` and `note` into its own
/// answer (`CancelAccepted`).
public struct CancelDecided: Sendable, Hashable, Codable {
    public var jobID: String
    /// Always `accepted`.
    public var cancel: String
    /// Always `cancelled`: the job's final notice is decided.
    public var state: String
    /// The principal that asked.
    public var requestedBy: String
    public var requestedAt: String
    /// False when the cancel broadcast could not be published: a running recipe may run on.
    public var workersTold: Bool
    /// What happens next, for people.
    public var note: String

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", cancel, state, requestedBy = "requested_by", requestedAt = "requested_at"
        case workersTold = "workers_told", note
    }

    public init(
        jobID: String, cancel: String = "accepted", state: String = "cancelled", requestedBy: String, requestedAt: String,
        workersTold: Bool, note: String
    ) {
        self.jobID = jobID
        self.cancel = cancel
        self.state = state
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.workersTold = workersTold
        self.note = note
    }
}

/// The coordinator's `GET /health` (open, no token): the ledger, the broker, jobs delivering.
/// Answered with 503 only when the ledger does not answer (`status` `failing`).
public struct CoordinatorHealth: Sendable, Hashable, Codable {
    /// `ok`, `degraded` (broker disconnected) or `failing` (the ledger).
    public var status: String
    /// `ok`, or `failing: …` and why.
    public var ledger: String
    /// Left out when the ledger failed.
    public var jobsDelivering: Int?
    public var jobsAwaitingCompletion: Int?
    public var partsWaitingRetry: Int?
    /// `connected` or `disconnected`; left out when the status API does not know the broker.
    public var broker: String?

    enum CodingKeys: String, CodingKey {
        case status, ledger, jobsDelivering = "jobs_delivering", jobsAwaitingCompletion = "jobs_awaiting_completion"
        case partsWaitingRetry = "parts_waiting_retry", broker
    }

    public init(
        status: String, ledger: String, jobsDelivering: Int? = nil, jobsAwaitingCompletion: Int? = nil, partsWaitingRetry: Int? = nil,
        broker: String? = nil
    ) {
        self.status = status
        self.ledger = ledger
        self.jobsDelivering = jobsDelivering
        self.jobsAwaitingCompletion = jobsAwaitingCompletion
        self.partsWaitingRetry = partsWaitingRetry
        self.broker = broker
    }
}

/// `GET /v1/jobs/{id}/result` asked for JSON (OpenAPI `Result`): the job's full stored result,
/// failure reason or the sentence for cancelled and lost, with who ran it when it ran.
public struct JobResult: Sendable, Hashable, Codable {
    public var jobID: String
    /// `result`, `failure`, `cancelled` or `lost`: the kind of the final notice.
    public var kind: String
    public var text: String
    /// From the job's completion; left out when there is none (lost, dead-lettered).
    public var worker: String?
    public var startedAt: String?
    public var finishedAt: String?
    /// `succeeded`, `failed` or `cancelled`, as the worker reported it.
    public var status: String?
    /// The contract's summary; left out when the contract has not arrived.
    public var summary: String?

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", kind, text, worker, startedAt = "started_at", finishedAt = "finished_at", status, summary
    }

    public init(
        jobID: String, kind: String, text: String, worker: String? = nil, startedAt: String? = nil, finishedAt: String? = nil,
        status: String? = nil, summary: String? = nil
    ) {
        self.jobID = jobID
        self.kind = kind
        self.text = text
        self.worker = worker
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.summary = summary
    }
}
