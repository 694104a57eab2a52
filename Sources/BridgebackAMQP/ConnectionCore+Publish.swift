import CRabbitMQ

// Publishing with confirms: batches waiting for their outcomes, the confirm window.

/// A batch of publishes awaiting their confirms; resumed once when every message has an outcome.
final class PublishBatch {
    var results: [Result<Void, AMQPError>?]
    var remaining: Int
    let continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>
    /// Per message, a delivery of this connection to ack once that message is confirmed
    /// (`AMQPPublisher.publish(_:thenAck:)`); empty when there is none.
    let thenAcks: [AckRequest?]

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>, thenAcks: [AckRequest?] = []) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
        self.thenAcks = thenAcks
        if count == 0 { continuation.resume(returning: []) }
    }

    /// The ack to send once message `index` is confirmed, if any.
    func thenAck(_ index: Int) -> AckRequest? {
        index < thenAcks.count ? thenAcks[index] : nil
    }

    func complete(_ index: Int, _ result: Result<Void, AMQPError>) {
        guard results[index] == nil else { return }
        results[index] = result
        remaining -= 1
        if remaining == 0 { continuation.resume(returning: results.map { $0! }) }
    }
}

struct PublishToken {
    let batch: PublishBatch
    let index: Int
    /// When the publish went on the wire (monotonic nanoseconds), for the confirm latency.
    var sentAt: UInt64 = 0
}

extension ConnectionCore {
    func result(for outcome: ConfirmTracker<PublishToken>.Outcome) -> Result<Void, AMQPError> {
        switch outcome {
        case .confirmed: .success(())
        case .nacked:
            .failure(AMQPError(.publishNacked, "the broker refused responsibility for this message (basic.nack); publish it again"))
        case .returned(let code, let text):
            .failure(
                AMQPError(.unroutable, "no queue is bound for this message (mandatory publish returned)", replyCode: code, replyText: text))
        }
    }

    func openPublisher(window: Int) -> Result<UInt16, AMQPError> {
        guard machine.isConnected else { return .failure(notConnectedError()) }
        return openNew(.publisher(window: max(1, window)))
    }

    func publish(_ messages: [OutboundMessage], on number: UInt16, batch: PublishBatch) {
        guard machine.isConnected else {
            let error = notConnectedError()
            for index in messages.indices { batch.complete(index, .failure(error)) }
            return
        }
        let tokens = messages.indices.map { PublishToken(batch: batch, index: $0) }
        let enqueued = channels.enqueue(messages, tokens: tokens, on: number)
        do {
            switch enqueued {
            case .noSuchChannel:
                let error = AMQPError(.closedByUser, "this publisher's channel is closed")
                for index in messages.indices { batch.complete(index, .failure(error)) }
            case .queuedNeedsOpen:
                try openChannel(number)
                try flushWaiting(number)
            case .queued:
                try flushWaiting(number)
            }
        } catch {
            if case .connection(let e) = error { connectionLost(e) }
        }
    }

    /// Sends waiting messages while the confirm window has room.
    func flushWaiting(_ number: UInt16) throws(CoreFailure) {
        guard let conn else { return }
        defer { recordUnconfirmed() }
        // The message is lent from its batch, not copied per publish.
        while let status = channels.sendNext(
            on: number, stamp: { $0.sentAt = Self.uptimeNanoseconds() },
            { message, tag in
                // Fields taken here, so the closures below capture them and not the whole message (a copy).
                let (exchange, routingKey, body, mandatory) = (message.exchange, message.routingKey, message.body, message.mandatory)
                let extra: FieldTable = mandatory ? [Self.returnTagHeader: .int(Int64(tag))] : [:]
                return CBridge.withProperties(message.properties, extraHeaders: extra) { props in
                    CBridge.withBytes(exchange) { exchange in
                        CBridge.withBytes(routingKey) { key in
                            CBridge.withBytes(body) { body in
                                amqp_basic_publish(conn, number, exchange, key, mandatory ? 1 : 0, 0, props, body)
                            }
                        }
                    }
                }
            })
        {
            guard status == AMQP_STATUS_OK.rawValue else {
                throw .connection(AMQPError(.connectionClosed, "publish failed: \(CBridge.statusText(status))", libraryStatus: status))
            }
        }
    }

    /// Publishes sent and not yet confirmed, over every publisher channel.
    func recordUnconfirmed() {
        metrics.unconfirmed(channels.outstandingCount)
    }
}
