public import BridgebackAMQP
import BridgebackCore

/// Publishing with a broker confirm: `AMQPPublisher` in production, an in-memory fake in tests.
public protocol MessagePublishing: Sendable {
    /// Returns once the broker took responsibility; throws `AMQPError` otherwise.
    func publish(_ message: OutboundMessage) async throws
}

extension AMQPPublisher: MessagePublishing {}

enum AMQPFailureMapping {
    /// The taxonomy for a failed confirmed publish.
    static func failure(_ error: any Error, exchange: String, routingKey: String) -> DeliveryFailure {
        guard let error = error as? AMQPError else {
            return DeliveryFailure(.unknownOutcome, detail: "publish to \(exchange) failed: \(error)")
        }
        switch error.code {
        case .unroutable:
            return DeliveryFailure(.missingTarget, detail: "no queue is bound to \(exchange) for routing key '\(routingKey)'")
        case .outcomeUnknown, .timeout:
            return DeliveryFailure(.unknownOutcome, detail: error.message)
        case .accessRefused:
            return DeliveryFailure(.permission, detail: error.message)
        case .channelClosed where error.replyCode == 403:
            return DeliveryFailure(.permission, detail: "broker refused the publish to \(exchange): \(error.replyText ?? error.message)")
        case .channelClosed where error.replyCode == 404:
            return DeliveryFailure(.missingTarget, detail: "exchange \(exchange) does not exist: \(error.replyText ?? error.message)")
        default:
            // Not connected, nacked, connection closed before sending: nothing was delivered.
            return DeliveryFailure(.transport, detail: "\(error.code): \(error.message)")
        }
    }
}
