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
        do {
            try send(settlement, conn, channel, tag: tag, channels.consumer(on: channel))
        } catch {
            if case .connection(let e) = error { connectionLost(e) }
        }
    }

    /// Writes one settlement frame, recording it against `consumer`'s unsettled tags first.
    /// Throws rather than ending the connection: `settleAcks` also runs inside the frame loop.
    private func send(
        _ settlement: Settlement, _ conn: amqp_connection_state_t, _ channel: UInt16, tag: UInt64, _ consumer: ConsumerRecord?
    ) throws(CoreFailure) {
        if let consumer { settled(consumer, tag: tag, settlement: settlement) }
        let status: Int32
        switch settlement {
        case .ack(let multiple): status = amqp_basic_ack(conn, channel, tag, multiple ? 1 : 0)
        case .nack(let requeue, let multiple): status = amqp_basic_nack(conn, channel, tag, multiple ? 1 : 0, requeue ? 1 : 0)
        case .reject(let requeue): status = amqp_basic_reject(conn, channel, tag, requeue ? 1 : 0)
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw .connection(
                AMQPError(.connectionClosed, "settling a delivery failed: \(CBridge.statusText(status))", libraryStatus: status))
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
                    settleAcksOrLoseConnection(acks)
                    acks.removeAll(keepingCapacity: true)
                }
                command(self)
            }
        }
        if !acks.isEmpty { settleAcksOrLoseConnection(acks) }
    }

    /// `settleAcks` between commands, where a failed write may end the connection at once.
    private func settleAcksOrLoseConnection(_ acks: [AckRequest]) {
        do {
            try settleAcks(acks)
        } catch {
            if case .connection(let e) = error { connectionLost(e) }
        }
    }

    /// Settles a run of plain acks. Where the run holds a consumer's oldest unsettled deliveries
    /// without a gap, those go out as one `basic.ack` with `multiple` (the broker settles exactly the
    /// same deliveries, with one frame and, on a quorum queue, one settle command instead of one per
    /// message: the broker's CPU per acked message about halves); the rest one by one, as before.
    /// Acks of a channel incarnation that has closed are dropped (the broker has requeued those).
    ///
    /// Throws instead of ending the connection itself: it also runs while frames are being read
    /// (`publish(_:thenAck:)`'s acks, as their confirm arrives), and the reader must not go on with
    /// a connection freed under it.
    func settleAcks(_ acks: [AckRequest]) throws(CoreFailure) {
        var start = 0
        while start < acks.count {
            // Runs on one channel incarnation; a worker's acks all come from one consumer channel.
            let first = acks[start]
            var end = start + 1
            while end < acks.count, acks[end].channel == first.channel, acks[end].epoch == first.epoch { end += 1 }
            defer { start = end }
            guard machine.isConnected, let conn, channels.acceptsSettlement(on: first.channel, epoch: first.epoch) else {
                logger.debug(
                    "dropping acks for deliveries from a closed channel; the broker redelivers them",
                    metadata: ["channel": "\(first.channel)", "count": "\(end - start)"])
                continue
            }
            let consumer = channels.consumer(on: first.channel)
            var tags = acks[start..<end].map(\.tag)
            var merged = 0
            if tags.count > 1, let consumer {
                tags.sort()
                merged = consumer.unsettled.coveredPrefix(of: tags)
                if merged < 2 { merged = 0 }
            }
            if merged > 0 {
                try send(.ack(multiple: true), conn, first.channel, tag: tags[merged - 1], consumer)
                metrics.acksMerged(merged)
                shared.mergedAcks.add(merged, ordering: .relaxed)
            }
            for tag in tags[merged...] { try send(.ack(multiple: false), conn, first.channel, tag: tag, consumer) }
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
