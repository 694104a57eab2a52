import CRabbitMQ
import Logging
import Metrics
import Synchronization

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

    /// Runs drained inbox items in order. Plain acks are gathered while they come one after another
    /// and settled together (`settleAcks`) before the next command, so nothing is reordered
    /// across a command: an ack submitted before a publish still reaches the broker before it.
    func runInbox(_ items: [InboxItem]) {
        var acks: [AckRequest] = []
        for item in items {
            switch item {
            case .ack(let ack):
                acks.append(ack)
            case .command(let command):
                if !acks.isEmpty {
                    settleAcks(acks)
                    acks.removeAll(keepingCapacity: true)
                }
                command(self)
            }
        }
        if !acks.isEmpty { settleAcks(acks) }
    }

    /// Settles a run of plain acks. Where the run holds a consumer's oldest unsettled deliveries
    /// without a gap, those go out as one `basic.ack` with `multiple` (the broker settles exactly the
    /// same deliveries, with one frame and, on a quorum queue, one settle command instead of one per
    /// message: the broker's CPU per acked message about halves); the rest one by one, as before.
    func settleAcks(_ acks: [AckRequest]) {
        var start = 0
        while start < acks.count {
            // Runs on one channel incarnation; a worker's acks all come from one consumer channel.
            let first = acks[start]
            var end = start + 1
            while end < acks.count, acks[end].channel == first.channel, acks[end].epoch == first.epoch { end += 1 }
            defer { start = end }
            guard end - start > 1, machine.isConnected, let conn, channels.acceptsSettlement(on: first.channel, epoch: first.epoch),
                let consumer = channels.consumer(on: first.channel)
            else {
                for ack in acks[start..<end] { settle(.ack(multiple: false), channel: ack.channel, epoch: ack.epoch, tag: ack.tag) }
                continue
            }
            let tags = acks[start..<end].map(\.tag).sorted()
            let covered = consumer.unsettled.coveredPrefix(of: tags)
            if covered > 1 {
                settled(consumer, tag: tags[covered - 1], settlement: .ack(multiple: true))
                let status = amqp_basic_ack(conn, first.channel, tags[covered - 1], 1)
                if status != AMQP_STATUS_OK.rawValue {
                    connectionLost(
                        AMQPError(.connectionClosed, "settling deliveries failed: \(CBridge.statusText(status))", libraryStatus: status))
                    return
                }
                metrics.acksMerged(covered)
                shared.mergedAcks.add(covered, ordering: .relaxed)
            }
            for tag in tags[(covered > 1 ? covered : 0)...] {
                settle(.ack(multiple: false), channel: first.channel, epoch: first.epoch, tag: tag)
            }
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
