import BridgebackAMQP
public import BridgebackCore

/// Delivers a notice as an AMQP message with the delivery id as message id: the parent inbox
/// (`bb.inbox`, keyed by the inbox surface's address) or the work surface (`bb.progress`,
/// keyed by the surface id) for fallback notices. Receivers deduplicate by message id.
public struct BrokerNoticeAdapter: DeliveryAdapter {
    /// Which exchange and which routing key.
    public enum Route: Sendable {
        /// `bb.inbox`, routing key = the surface's address (the parent id).
        case inbox
        /// `bb.progress`, routing key = the surface id (work surface).
        case progress
    }

    public static let inboxExchange = "bb.inbox"
    public static let progressExchange = "bb.progress"

    let publisher: any MessagePublishing
    let route: Route

    public init(publisher: any MessagePublishing, route: Route) {
        self.publisher = publisher
        self.route = route
    }

    func target(_ surface: Surface) -> (exchange: String, key: String?) {
        switch route {
        case .inbox: (Self.inboxExchange, surface.address)
        case .progress: (Self.progressExchange, surface.id.rawValue)
        }
    }

    public func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        let (exchange, key) = target(delivery.surface)
        guard let key, !key.isEmpty else {
            return DeliveryFailure(
                .missingTarget, detail: "surface '\(delivery.surface.id)' has no inbox address to route to on \(exchange)")
        }
        guard key.utf8.count <= 255 else {
            return DeliveryFailure(.invalidPayload, detail: "routing key for \(exchange) is longer than 255 bytes")
        }
        return nil
    }

    public func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        let (exchange, key) = target(delivery.surface)
        let message = OutboundMessage(
            exchange: exchange, routingKey: key ?? "", body: delivery.body,
            properties: MessageProperties(
                contentType: "application/json", persistent: true, messageID: delivery.deliveryID.description,
                type: FinalNotice.schema.description, appID: "bridgeback-coordinator"),
            mandatory: true)
        do {
            try await publisher.publish(message)
            return nil
        } catch {
            return AMQPFailureMapping.failure(error, exchange: exchange, routingKey: key ?? "")
        }
    }
}
