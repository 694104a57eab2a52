import CRabbitMQ
import Logging

// Opening, closing and reopening channels, as the channel table says; broker replies that close one.

extension ConnectionCore {
    /// Closes each publisher channel that saw a nack once nothing is in flight on it; it is
    /// reopened (fresh delivery tags) when its `close-ok` arrives.
    ///
    /// After a quorum queue's leader moves (a cluster node died), RabbitMQ 3.10 can keep nacking
    /// every publish on a channel that was opened while the election ran, for as long as the
    /// channel lives; a fresh channel publishes normally. Found by the cluster failover test: the
    /// outbox relay's retries were refused for minutes on the old channel.
    func recycleNackedChannels() throws(CoreFailure) {
        for number in channels.channelsToRecycle() {
            logger.notice("AMQP publisher channel reopened after a nack", metadata: ["channel": "\(number)"])
            try sendChannelClose(number)
        }
    }

    /// Sends `channel.close` and returns at once; the table has the channel `closing` until its
    /// `close-ok` arrives as an ordinary frame (`dispatchMethod`).
    func sendChannelClose(_ number: UInt16) throws(CoreFailure) {
        guard let conn else { return }
        let status = bb_send_channel_close(conn, number)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw .connection(
                AMQPError(.connectionClosed, "closing channel \(number) failed: \(CBridge.statusText(status))", libraryStatus: status))
        }
    }

    /// Opens every closed channel (after a reconnect, a broker's channel.close, a recycle) and sends
    /// what waits on it.
    func reopenClosedChannels() throws(CoreFailure) {
        for number in channels.needingOpen {
            do {
                try openChannel(number)
                try flushWaiting(number)
            } catch .channel(let error) {
                // A consumer whose queue has gone cannot come back: end its stream with the reason.
                channels.openFailed(number)?.continuation.finish(throwing: error)
            }
        }
    }

    func openChannel(_ number: UInt16) throws(CoreFailure) {
        guard let conn else { throw .connection(AMQPError(.notConnected, "not connected")) }
        amqp_channel_open(conn, number)
        try check(amqp_get_rpc_reply(conn), channel: number, what: "channel.open")
        switch channels.opened(number) {
        case .none:
            break
        case .selectConfirms:
            amqp_confirm_select(conn, number)
            try check(amqp_get_rpc_reply(conn), channel: number, what: "confirm.select")
        case .consume(let consumer):
            // A new channel: the broker requeued whatever the old one held.
            consumer.unsettled.removeAll()
            if consumer.gauges == nil { consumer.gauges = metrics.consumerGauges(queue: consumer.queue) }
            consumer.gauges?.inUse.record(0)
            consumer.gauges?.prefetch.record(Int(consumer.prefetch))
            amqp_basic_qos(conn, number, 0, consumer.prefetch, 0)
            try check(amqp_get_rpc_reply(conn), channel: number, what: "basic.qos")
            let ok = CBridge.withBytes(consumer.queue) { queue in
                CBridge.withTable(consumer.arguments) { args in
                    amqp_basic_consume(conn, number, queue, amqp_empty_bytes, 0, 0, consumer.exclusive ? 1 : 0, args)
                }
            }
            try check(amqp_get_rpc_reply(conn), channel: number, what: "basic.consume on '\(consumer.queue)'")
            if let ok { consumer.serverTag = CBridge.string(ok.pointee.consumer_tag) }
        }
    }

    /// Turns an RPC reply into success or a channel / connection failure, answering the
    /// broker's close so the channel or connection is properly shut.
    func check(_ reply: amqp_rpc_reply_t, channel: UInt16, what: String) throws(CoreFailure) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if let close = bb_reply_channel_close(reply)?.pointee {
                let error = channelClosed(channel, code: close.reply_code, text: CBridge.string(close.reply_text), what: what)
                throw .channel(error)
            }
            if let close = bb_reply_connection_close(reply)?.pointee {
                sendConnectionCloseOk()
                throw .connection(
                    AMQPError(
                        .connectionClosed, "the broker closed the connection during \(what)", replyCode: close.reply_code,
                        replyText: CBridge.string(close.reply_text)))
            }
            throw .connection(AMQPError(.protocolError, "unexpected server reply to \(what)"))
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            let code: AMQPError.Code = status == AMQP_STATUS_TIMEOUT.rawValue ? .timeout : .connectionClosed
            throw .connection(AMQPError(code, "\(what) failed: \(CBridge.statusText(status))", libraryStatus: status))
        default:
            throw .connection(AMQPError(.protocolError, "no reply to \(what)"))
        }
    }

    /// The broker closed `channel`: acknowledge, fail what was in flight there, mark it for reopening.
    func channelClosed(_ channel: UInt16, code: UInt16, text: String, what: String) -> AMQPError {
        if let conn {
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(conn, channel, BB_CHANNEL_CLOSE_OK, &ok)
        }
        let error = AMQPError(.channelClosed, "the broker closed the channel during \(what)", replyCode: code, replyText: text)
        for token in channels.closedByBroker(channel) { token.batch.complete(token.index, .failure(error)) }
        logger.debug("AMQP channel closed by broker", metadata: ["channel": "\(channel)", "reply": "\(code) \(text)"])
        return error
    }

    func openNew(_ role: Channels.Role) -> Result<UInt16, AMQPError> {
        let number = channels.add(role)
        do {
            try openChannel(number)
            return .success(number)
        } catch {
            channels.discard(number)
            if case .connection(let e) = error { connectionLost(e) }
            return .failure(error.error)
        }
    }

    /// Its owner closes a publisher or consumer: what is in flight on it fails, its stream ends.
    func closeChannel(_ number: UInt16) {
        guard let (leftovers, sendClose) = channels.remove(number) else { return }
        let error = AMQPError(.closedByUser, "the publisher was closed before this publish was confirmed")
        fail(leftovers, notSent: error, unknownOutcome: error)
        for consumer in leftovers.consumers { consumer.continuation.finish() }
        if sendClose, let conn, machine.isConnected {
            if let consumer = leftovers.consumers.first, !consumer.serverTag.isEmpty {
                _ = CBridge.withBytes(consumer.serverTag) { amqp_basic_cancel(conn, number, $0) }
            }
            // A blocking RPC is fine here: this runs as a command between turns, not inside frame
            // dispatch, and the caller expects the channel gone (its consumer off the queue) on return.
            let reply = amqp_channel_close(conn, number, AMQP_REPLY_SUCCESS)
            if reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION {
                connectionLost(
                    AMQPError(.connectionClosed, "lost the connection while closing a channel", libraryStatus: reply.library_error))
            }
        }
    }
}
