public import Foundation

/// A decided cancel (`bridgeback.cancel.v1`), published by the coordinator to the `bb.cancel`
/// fanout exchange once its ledger holds the job's one `cancelled` final notice. Workers read it
/// from the `bb.cancels` stream: a running job is stopped, a job not yet started is never started.
///
/// It carries no destination and no capability: it can only stop work, never deliver anything.
public struct CancelNotice: WireMessage, Hashable {
    public static let schema = MessageSchema(.cancel, version: 1)

    public var jobID: JobID
    /// The principal that asked (its name in the principals file).
    public var requestedBy: String
    public var requestedAt: Date
    public var reason: String?

    public init(jobID: JobID, requestedBy: String, requestedAt: Date, reason: String? = nil) {
        self.jobID = jobID
        self.requestedBy = requestedBy
        self.requestedAt = requestedAt
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", requestedBy = "requested_by", requestedAt = "requested_at", reason
    }

    /// "Cancelled by alice at 2026-12-06T03:10:00Z (no longer needed)." — the final notice's text.
    public var sentence: String {
        "The job was cancelled by \(requestedBy) at \(WireDate.format(requestedAt))" + (reason.map { " (\($0))" } ?? "") + "."
    }
}
