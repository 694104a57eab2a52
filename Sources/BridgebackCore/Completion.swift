public import Foundation

/// How a job ended, as a worker reports it.
public enum CompletionOutcome: Sendable, Hashable, Codable {
    case succeeded(result: String)
    case failed(reason: String)
    case cancelled

    enum CodingKeys: String, CodingKey { case status, result, reason }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let status = try c.decode(String.self, forKey: .status)
        switch status {
        case "succeeded": self = .succeeded(result: try c.decode(String.self, forKey: .result))
        case "failed": self = .failed(reason: try c.decode(String.self, forKey: .reason))
        case "cancelled": self = .cancelled
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .status, in: c, debugDescription: "status '\(status)' is not succeeded, failed or cancelled")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .succeeded(let result):
            try c.encode("succeeded", forKey: .status)
            try c.encode(result, forKey: .result)
        case .failed(let reason):
            try c.encode("failed", forKey: .status)
            try c.encode(reason, forKey: .reason)
        case .cancelled:
            try c.encode("cancelled", forKey: .status)
        }
    }

    /// The final notice kind this outcome produces.
    public var noticeKind: FinalNoticeKind {
        switch self {
        case .succeeded: .result
        case .failed: .failure
        case .cancelled: .cancelled
        }
    }
}

/// A worker's report that a job ended (`bridgeback.completion.v1`), published to `bb.completions`.
///
/// There is intentionally no destination field. If a producer adds one (`final_surface`,
/// `delivery_mode`, a URL…) decoding ignores it: the coordinator takes the destination only
/// from the job's `OwnershipContract`.
public struct Completion: WireMessage, Hashable {
    public static let schema = MessageSchema(.completion, version: 1)

    public var jobID: JobID
    /// Which worker ran it (host/process), for the human context.
    public var worker: String
    /// The broker's delivery count for the job message (1 on first run), if known.
    public var attempt: Int
    public var startedAt: Date
    public var finishedAt: Date
    public var outcome: CompletionOutcome
    /// The job message's `completion_capability`, echoed: proves this completion comes from a
    /// worker that received the job. Redacted in `description`; stripped once verified.
    public var capability: String?

    public init(
        jobID: JobID, worker: String, attempt: Int = 1, startedAt: Date, finishedAt: Date, outcome: CompletionOutcome,
        capability: String? = nil
    ) {
        self.capability = capability
        self.jobID = jobID
        self.worker = worker
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", worker, attempt, startedAt = "started_at", finishedAt = "finished_at", outcome, capability
    }
}

extension Completion: CustomStringConvertible, CustomDebugStringConvertible {
    /// The identifying fields; the capability shows as `<redacted>` and the result only by size.
    public var description: String {
        let outcome: String
        switch self.outcome {
        case .succeeded(let result): outcome = "succeeded(\(result.utf8.count) bytes)"
        case .failed(let reason): outcome = "failed(\(reason.utf8.count) bytes)"
        case .cancelled: outcome = "cancelled"
        }
        return
            "Completion(jobID: \(jobID), worker: \(worker), attempt: \(attempt), outcome: \(outcome), capability: \(capability == nil ? "nil" : "<redacted>"))"
    }
    public var debugDescription: String { description }
}
