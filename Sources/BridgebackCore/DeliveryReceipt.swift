public import Foundation

/// The terminal ledger state of one part, as people and other services see it.
public enum DeliveryOutcome: String, Sendable, Hashable, Codable, CaseIterable {
    case delivered, failed, uncertain
}

/// The coordinator's record that a part reached a terminal state (`bridgeback.receipt.v1`).
///
/// Admission stores it for `GET /v1/jobs/{id}`; a parent reads `uncertain` as "check whether
/// this arrived", never as success.
public struct DeliveryReceipt: WireMessage, Hashable {
    public static let schema = MessageSchema(.receipt, version: 1)

    public var jobID: JobID
    public var deliveryID: DeliveryID
    public var part: Int
    public var totalParts: Int
    public var surface: SurfaceID
    public var outcome: DeliveryOutcome
    public var attempts: Int
    /// The last failure, for `failed` and `uncertain`.
    public var failure: DeliveryFailure?
    public var at: Date

    public init(
        deliveryID: DeliveryID, totalParts: Int, surface: SurfaceID, outcome: DeliveryOutcome, attempts: Int,
        failure: DeliveryFailure? = nil, at: Date
    ) {
        self.jobID = deliveryID.job
        self.deliveryID = deliveryID
        self.part = deliveryID.part
        self.totalParts = totalParts
        self.surface = surface
        self.outcome = outcome
        self.attempts = attempts
        self.failure = failure
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", deliveryID = "delivery_id", part, totalParts = "total_parts", surface, outcome, attempts, failure, at
    }
}
