import BridgebackAMQP
public import BridgebackCore

/// Tells the parent about a part that did not plainly arrive (`failed`, `uncertain`).
///
/// Best effort on top of the ledger, which always holds the receipt: a lost receipt is
/// logged, never retried in a loop that could block delivery.
public protocol ReceiptPublishing: Sendable {
    func publish(_ receipt: DeliveryReceipt, parentID: String) async throws
}

/// Publishes receipts to the parent's inbox (`bb.inbox`, routing key = parent id).
public struct InboxReceiptPublisher: ReceiptPublishing {
    let publisher: any MessagePublishing

    public init(publisher: any MessagePublishing) {
        self.publisher = publisher
    }

    public func publish(_ receipt: DeliveryReceipt, parentID: String) async throws {
        let body = try WireCodec.encode(receipt)
        try await publisher.publish(
            OutboundMessage(
                exchange: BrokerNoticeAdapter.inboxExchange, routingKey: parentID, body: Array(body),
                properties: MessageProperties(
                    contentType: "application/json", persistent: true,
                    messageID: "rcpt_\(receipt.deliveryID)_\(receipt.outcome.rawValue)",
                    type: DeliveryReceipt.schema.description, appID: "bridgeback-coordinator"),
                mandatory: true))
    }
}
