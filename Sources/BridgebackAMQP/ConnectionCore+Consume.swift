import CRabbitMQ
import Logging
import Metrics

// Consumers: their records (which outlive channels and connections) and settling deliveries.

/// A consumer as the thread knows it; it survives channel and connection loss and is
/// re-established on the new channel.
final class ConsumerRecord {
    let queue: String
    let prefetch: UInt16
    let exclusive: Bool
    let arguments: FieldTable
    /// Bodies over it are delivered reduced (nil: every body whole).
    let bodyLimit: BodyLimit?
    var serverTag: String = ""
    /// The last delivery's consumer tag, exchange and routing key, reused by the next one that repeats them.
    var lastConsumerTag = ""
    var lastExchange = ""
    var lastRoutingKey = ""
    /// Delivery tags handed out on the current channel and not yet settled (prefetch in use).
    var unsettled = UnsettledTags()
    var gauges: (inUse: Gauge, prefetch: Gauge)?
    /// Deliveries read in the current pass, handed over in one chunk (one wake-up, not one per message).
    var pending: [AMQPDelivery] = []
    let continuation: AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation

    init(
        queue: String, prefetch: UInt16, exclusive: Bool, arguments: FieldTable, bodyLimit: BodyLimit? = nil,
        continuation: AsyncThrowingStream<[AMQPDelivery], any Error>.Continuation
    ) {
        self.bodyLimit = bodyLimit
        self.queue = queue
        self.prefetch = prefetch
        self.exclusive = exclusive
        self.arguments = arguments
        self.continuation = continuation
    }
}

extension ConnectionCore {
    func startConsumer(_ consumer: ConsumerRecord) -> Result<UInt16, AMQPError> {
        guard machine.isConnected else { return .failure(notConnectedError()) }
        return openNew(.consumer(consumer))
    }

    enum Settlement { case ack(multiple: Bool), nack(requeue: Bool, multiple: Bool), reject(requeue: Bool) }

    func settle(_ settlement: Settlement, channel: UInt16, epoch: Int, tag: UInt64) {
        // A delivery from an earlier incarnation of the channel was already requeued by the broker.
        guard machine.isConnected, let conn, channels.acceptsSettlement(on: channel, epoch: epoch) else {
            logger.debug(
                "dropping settlement for a delivery from a closed channel; the broker redelivers it",
                metadata: ["channel": "\(channel)", "tag": "\(tag)"])
            return
        }
        if let consumer = channels.consumer(on: channel) { settled(consumer, tag: tag, settlement: settlement) }
        let status: Int32
        switch settlement {
        case .ack(let multiple): status = amqp_basic_ack(conn, channel, tag, multiple ? 1 : 0)
        case .nack(let requeue, let multiple): status = amqp_basic_nack(conn, channel, tag, multiple ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue): status = amqp_basic_reject(conn, channel, tag, requeue ? 1 : 0)
        }
        if status != AMQP_STATUS_OK.rawValue {
            connectionLost(AMQPError(.connectionClosed, "settling a delivery failed: \(CBridge.statusText(status))", libraryStatus: status))
        }
    }

    func settled(_ consumer: ConsumerRecord, tag: UInt64, settlement: Settlement) {
        let multiple: Bool
        switch settlement {
        case .ack(let m), .nack(_, let m): multiple = m
        case .reject: multiple = false
        }
        if multiple { consumer.unsettled.removeUpTo(tag) } else { consumer.unsettled.remove(tag) }
        consumer.gauges?.inUse.record(consumer.unsettled.count)
    }
}
