import BridgebackAMQP
public import BridgebackCore
import Foundation
import Synchronization

/// Tells every worker that a job is cancelled, once the ledger holds its `cancelled` notice.
public protocol CancelBroadcasting: Sendable {
    func broadcast(_ notice: CancelNotice) async throws
}

/// Publishes to the `bb.cancel` fanout exchange (persistent, mandatory, confirmed), bound to the
/// `bb.cancels` stream that every worker reads from its start (topology/definitions.json).
public struct BrokerCancelBroadcaster: CancelBroadcasting {
    public static let exchange = "bb.cancel"
    let publisher: any MessagePublishing

    public init(publisher: any MessagePublishing) {
        self.publisher = publisher
    }

    public func broadcast(_ notice: CancelNotice) async throws {
        let body = try WireCodec.encode(notice)
        try await publisher.publish(
            OutboundMessage(
                exchange: Self.exchange, routingKey: "cancel", body: Array(body),
                properties: MessageProperties(
                    contentType: "application/json", persistent: true, messageID: "cancel_\(notice.jobID)",
                    timestamp: UInt64(max(0, notice.requestedAt.timeIntervalSince1970)),
                    type: CancelNotice.schema.description, appID: "bridgeback-coordinator"),
                mandatory: true))
    }
}

/// What a cancel request did.
public enum CancelVerdict: Sendable, Hashable {
    /// The job ends `cancelled` (its one final notice is in the ledger). `workersTold`: whether
    /// the cancel reached the broker for the workers (if not, a running recipe runs on, but
    /// its answer is a duplicate and never delivered).
    case cancelled(CancelNotice, workersTold: Bool)
    /// Nothing changed.
    case refused(JobLifecycle.CancelRefusal)
}

/// Where the status API's cancel route finds the coordinator that may write the ledger: set
/// by `CoordinatorService` once it holds the ledger lock, cleared when it stops. A standby's
/// route answers 503 (nil).
public final class ActiveCoordinator: Sendable {
    private let current = Mutex<Coordinator?>(nil)

    public init() {}

    public var coordinator: Coordinator? { current.withLock { $0 } }

    func set(_ coordinator: Coordinator?) { current.withLock { $0 = coordinator } }
}
