import CRabbitMQ
import Logging

// Reading frames without blocking and dispatching them: confirms, deliveries and their content,
// returns, closes. Nothing here waits for the broker.

extension ConnectionCore {
    func pumpFrames() throws(CoreFailure) {
        guard let conn else { return }
        var zero = timeval(tv_sec: 0, tv_usec: 0)
        for _ in 0..<4096 {
            var frame = amqp_frame_t()
            let status = amqp_simple_wait_frame_noblock(conn, &frame, &zero)
            if status == AMQP_STATUS_TIMEOUT.rawValue { break }
            guard status == AMQP_STATUS_OK.rawValue else {
                throw .connection(
                    AMQPError(.connectionClosed, "lost the broker connection: \(CBridge.statusText(status))", libraryStatus: status))
            }
            try dispatch(frame)
        }
        if amqp_frames_enqueued(conn) == 0 { amqp_maybe_release_buffers(conn) }
        for number in channels.numbers {
            if let consumer = channels.consumer(on: number), !consumer.pending.isEmpty {
                // Handed over, not shared: the consumer may run before this thread lets go of it,
                // and a chunk still referenced here would be copied when the consumer takes it apart.
                var chunk: [AMQPDelivery] = []
                chunk.reserveCapacity(consumer.pending.count)
                swap(&chunk, &consumer.pending)
                consumer.continuation.yield(consume chunk)
            }
        }
        for number in channels.withWaitingPublishes { try flushWaiting(number) }
    }

    func dispatch(_ frame: amqp_frame_t) throws(CoreFailure) {
        if frame.frame_type == AMQP_FRAME_METHOD {
            try dispatchMethod(frame)
        } else if frame.frame_type == AMQP_FRAME_HEADER || frame.frame_type == AMQP_FRAME_BODY {
            try dispatchContent(frame)
        }
    }

    /// A content header or body frame: the next part of the message its channel is assembling.
    /// The channel's frame memory is released after each, so a large message does not pile up in
    /// rabbitmq-c's pool (what `amqp_read_message` does, allocating the declared size at once).
    func dispatchContent(_ frame: amqp_frame_t) throws(CoreFailure) {
        let channel = frame.channel
        defer { if let conn { amqp_maybe_release_buffers_on_channel(conn, channel) } }
        // In place: the assembly (what arrived so far) is not copied per frame.
        let step = channels.assemble(on: channel) { assembly -> ContentAssembly.Step? in
            if frame.frame_type == AMQP_FRAME_HEADER {
                guard let decoded = bb_frame_basic_properties(frame) else { return nil }
                return assembly.header(CBridge.decode(decoded.pointee), bodySize: frame.payload.properties.body_size)
            }
            let fragment = frame.payload.body_fragment
            return assembly.body(UnsafeRawBufferPointer(start: fragment.bytes, count: fragment.len))
        }
        guard let step else { return }
        switch consume step {
        case .needMore:
            break
        case .protocolError(let text):
            throw .connection(AMQPError(.protocolError, "channel \(channel): \(text)"))
        case .complete(let message):
            completed(message, on: channel)
        }
    }

    /// A message whose content has fully arrived: a delivery for its consumer, or a returned publish.
    func completed(_ message: consuming ContentAssembly.Message, on channel: UInt16) {
        switch message.origin {
        case .delivery(let tag, let redelivered, let exchange, let routingKey, let consumerTag):
            guard let (consumer, epoch) = channels.openConsumer(on: channel) else { return }
            if let full = message.oversizeBytes {
                logger.warning(
                    "AMQP message over the consumer's body limit; delivered reduced",
                    metadata: [
                        "queue": "\(consumer.queue)", "bytes": "\(full)", "limit": "\(consumer.bodyLimit?.maxBytes ?? 0)",
                        "kept": "\(message.body.count)",
                    ])
            }
            let delivery = AMQPDelivery(
                body: message.body, properties: message.properties, exchange: exchange,
                routingKey: routingKey, redelivered: redelivered, deliveryTag: tag, consumerTag: consumerTag,
                acker: DeliveryAcker(inbox: inbox, channel: channel, epoch: epoch, tag: tag),
                oversizeBytes: message.oversizeBytes)
            consumer.pending.append(consume delivery)
            consumer.unsettled.insert(tag)
            consumer.gauges?.inUse.record(consumer.unsettled.count)
        case .returned(let code, let text):
            if let tag = message.properties.headers[Self.returnTagHeader]?.intValue {
                channels.returned(channel, tag: UInt64(tag), replyCode: code, replyText: text)
            }
        }
    }

    /// One method frame. Nothing here waits for the broker: a blocking RPC would read (and queue)
    /// other frames from inside this dispatch. What needs the broker's answer is sent without
    /// waiting, and its answer is dispatched like any other frame (a cancelled consumer's
    /// `channel.close` → `channel.close-ok` below).
    func dispatchMethod(_ frame: amqp_frame_t) throws(CoreFailure) {
        let channel = frame.channel
        switch frame.payload.method.id {
        case BB_BASIC_DELIVER:
            // The content (header, body frames) follows; the channel assembles it (dispatchContent).
            guard let deliver = bb_frame_basic_deliver(frame)?.pointee, let (consumer, _) = channels.openConsumer(on: channel) else {
                return
            }
            channels.setContent(
                ContentAssembly(
                    origin: .delivery(
                        tag: deliver.delivery_tag, redelivered: deliver.redelivered != 0,
                        exchange: CBridge.string(deliver.exchange, reusing: &consumer.lastExchange),
                        routingKey: CBridge.string(deliver.routing_key, reusing: &consumer.lastRoutingKey),
                        consumerTag: CBridge.string(deliver.consumer_tag, reusing: &consumer.lastConsumerTag)),
                    limit: consumer.bodyLimit), on: channel)
        case BB_BASIC_ACK:
            guard let ack = bb_frame_basic_ack(frame)?.pointee else { return }
            let now = Self.uptimeNanoseconds()
            let resolved = channels.ack(channel, tag: ack.delivery_tag, multiple: ack.multiple != 0)
            // Deliveries to ack once their message is confirmed go out first, together: those one
            // confirm resolves can merge into one `multiple` ack, and a caller resumed below finds
            // its ack already sent.
            var thenAcks: [AckRequest] = []
            for (token, outcome) in resolved {
                if case .confirmed = outcome, let thenAck = token.batch.thenAck(token.index) { thenAcks.append(thenAck) }
            }
            // A failed ack write ends the connection after the confirmed publishes are answered:
            // they were confirmed; only the acks are lost (the broker redelivers those jobs).
            var ackFailure: CoreFailure?
            if !thenAcks.isEmpty {
                do { try settleAcks(thenAcks) } catch { ackFailure = error }
            }
            for (token, outcome) in resolved {
                metrics.confirmed(afterNanoseconds: now &- token.sentAt)
                token.batch.complete(token.index, result(for: outcome))
            }
            if let ackFailure { throw ackFailure }
            try flushWaiting(channel)
        case BB_BASIC_NACK:
            guard let nack = bb_frame_basic_nack(frame)?.pointee else { return }
            for (token, outcome) in channels.nack(channel, tag: nack.delivery_tag, multiple: nack.multiple != 0) {
                token.batch.complete(token.index, result(for: outcome))
            }
        case BB_BASIC_RETURN:
            // Only the headers matter (they carry the confirm tag); the body is our own and is dropped.
            guard let ret = bb_frame_basic_return(frame)?.pointee, channels.contains(channel) else { return }
            channels.setContent(
                ContentAssembly(origin: .returned(replyCode: ret.reply_code, replyText: CBridge.string(ret.reply_text)), limit: .prefix(0)),
                on: channel)
        case BB_BASIC_CANCEL:
            guard let cancel = bb_frame_basic_cancel(frame)?.pointee, let (consumer, sendClose) = channels.cancelledByBroker(channel)
            else { return }
            consumer.continuation.finish(
                throwing: AMQPError(
                    .consumerCancelled,
                    "the broker cancelled the consumer on '\(consumer.queue)' (tag \(CBridge.string(cancel.consumer_tag))); "
                        + "the queue may have been deleted"))
            // Not amqp_channel_close: that RPC would block this dispatch until close-ok. The table
            // keeps the channel `closing` (its number is not reused) until close-ok arrives.
            if sendClose { try sendChannelClose(channel) }
        case BB_CHANNEL_CLOSE:
            guard let close = bb_frame_channel_close(frame)?.pointee else { return }
            let error = channelClosed(channel, code: close.reply_code, text: CBridge.string(close.reply_text), what: "normal operation")
            logger.warning("AMQP channel closed by the broker", metadata: ["channel": "\(channel)", "error": "\(error)"])
        case BB_CHANNEL_CLOSE_OK:
            // The answer to a close sent without waiting (a cancelled consumer, a recycled publisher).
            channels.closeOk(channel)
        case BB_CONNECTION_CLOSE:
            guard let close = bb_frame_connection_close(frame)?.pointee else { return }
            sendConnectionCloseOk()
            throw .connection(
                AMQPError(
                    .connectionClosed, "the broker closed the connection", replyCode: close.reply_code,
                    replyText: CBridge.string(close.reply_text)))
        case BB_CONNECTION_BLOCKED:
            shared.update(blocked: true)
            logger.warning("AMQP connection blocked by the broker (resource alarm); publishes will wait")
        case BB_CONNECTION_UNBLOCKED:
            shared.update(blocked: false)
            logger.info("AMQP connection unblocked")
        default:
            break
        }
    }
}
