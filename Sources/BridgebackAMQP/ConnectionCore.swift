#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import CRabbitMQ
import Logging
import Metrics
import Synchronization

/// Why a rabbitmq-c call failed: only the channel, or the whole connection.
enum CoreFailure: Error {
    case channel(AMQPError)
    case connection(AMQPError)

    var error: AMQPError {
        switch self {
        case .channel(let e), .connection(let e): e
        }
    }
}

/// A batch of publishes awaiting their confirms; resumed once when every message has an outcome.
final class PublishBatch {
    var results: [Result<Void, AMQPError>?]
    var remaining: Int
    let continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>

    init(count: Int, continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
        if count == 0 { continuation.resume(returning: []) }
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
    /// Delivery tags handed out on the current channel and not yet settled (prefetch in use).
    var unsettled: Set<UInt64> = []
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

/// Everything that touches rabbitmq-c for one connection. Lives on, and is only used by, the
/// connection's own thread: rabbitmq-c is blocking and not thread-safe.
final class ConnectionCore {
    let configuration: AMQPConfiguration
    let inbox: CommandInbox
    let shared: SharedConnectionState
    var logger: Logger
    let metrics: AMQPMetrics
    private var machine: ConnectionStateMachine
    private var conn: amqp_connection_state_t?
    /// Every channel's state, epoch, confirm window and waiting publishes (sans-I/O; this class performs its answers).
    private var channels = Channels()
    /// What was declared, to declare again after a reconnect.
    private var topology = RecordedTopology()
    private var retryDeadline: ContinuousClock.Instant?
    /// Why each node failed in the current connect round (for one error naming them all).
    private var roundErrors: [String] = []
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    typealias Channels = ChannelTable<OutboundMessage, PublishToken, ConsumerRecord>
    private static let controlChannel = Channels.controlChannel
    static let returnTagHeader = "x-bb-publish-tag"

    init(configuration: AMQPConfiguration, inbox: CommandInbox, shared: SharedConnectionState, logger: Logger) {
        self.configuration = configuration
        self.inbox = inbox
        self.shared = shared
        self.logger = logger
        self.metrics = AMQPMetrics(connectionName: configuration.connectionName)
        self.machine = ConnectionStateMachine(
            baseDelay: configuration.reconnectBaseDelay, maxDelay: configuration.reconnectMaxDelay,
            endpointCount: configuration.endpoints.count)
    }

    // MARK: - Thread main loop

    func run(onFirstConnect: CheckedContinuation<Void, any Error>) {
        machine.start()
        var firstConnect: CheckedContinuation<Void, any Error>? = onFirstConnect
        loop: while true {
            switch machine.state {
            case .connecting(let attempt, _):
                let endpoint = configuration.endpoints[machine.endpointIndex]
                do {
                    try openConnection(to: endpoint)
                    switch machine.connectSucceeded() {
                    case .reportConnected(let generation):
                        shared.update(connected: true, generation: generation, error: nil)
                        metrics.connected(true)
                        logger.info("AMQP connected", metadata: ["url": "\(configuration.redactedURL(for: endpoint))"])
                        firstConnect?.resume()
                        firstConnect = nil
                    case .restoreAndResume(let generation):
                        shared.update(connected: true, generation: generation, error: nil)
                        metrics.connected(true)
                        metrics.reconnected()
                        logger.info(
                            "AMQP reconnected; restoring topology and consumers",
                            metadata: [
                                "attempt": "\(attempt)", "node": "\(endpoint)",
                            ])
                        do {
                            try restore()
                        } catch {
                            connectionLost(error.error)
                        }
                    }
                } catch {
                    destroyConnection()
                    roundErrors.append("\(endpoint): \(error.message)")
                    switch machine.connectFailed() {
                    case .tryNextEndpoint(let index):
                        logger.warning(
                            "AMQP node unavailable; trying the next cluster node",
                            metadata: [
                                "node": "\(endpoint)", "next": "\(configuration.endpoints[index])", "error": "\(error)",
                            ])
                    case .failConnect:
                        firstConnect?.resume(throwing: roundError(error))
                        firstConnect = nil
                    case .retry(let delay, let next):
                        roundErrors.removeAll()
                        let jittered = jitter(delay)
                        logger.warning(
                            "AMQP reconnect failed; retrying",
                            metadata: [
                                "error": "\(error)", "attempt": "\(next)", "delay_ms": "\(jittered.milliseconds)",
                            ])
                        shared.update(connected: false, generation: machine.currentGeneration, error: error)
                        retryDeadline = .now + jittered
                    case .none:
                        break
                    }
                }
            case .connected:
                serviceConnected()
            case .waitingToReconnect:
                waitForRetry()
            case .closed:
                break loop
            case .idle:
                preconditionFailure("not started")
            }
        }
        finish()
    }

    /// The error for a round in which every node failed: the last error, naming every node's failure.
    private func roundError(_ last: AMQPError) -> AMQPError {
        guard configuration.endpoints.count > 1 else { return last }
        var error = last
        error.message = "no broker node could be reached: " + roundErrors.joined(separator: "; ")
        return error
    }

    private func jitter(_ delay: Duration) -> Duration {
        delay + .milliseconds(Int.random(in: 0...max(1, Int(delay.milliseconds / 4))))
    }

    /// One turn while connected: run commands, read what has arrived, sleep until more arrives.
    private func serviceConnected() {
        do {
            // Every drained command runs, even after one of them closed or lost the connection:
            // the later ones then fail fast (`notConnected`/`closedByUser`) instead of being
            // dropped with their callers' continuations never resumed.
            for command in inbox.drain() { command(self) }
            guard machine.isConnected else { return }
            try pumpFrames()
            try recycleNackedChannels()
            try reopenClosedChannels()
            guard inbox.isEmpty, let conn else { return }
            if amqp_frames_enqueued(conn) != 0 || amqp_data_in_buffer(conn) != 0 { return }
            var fds = [
                pollfd(fd: amqp_get_sockfd(conn), events: Int16(POLLIN), revents: 0),
                pollfd(fd: inbox.wakeFD, events: Int16(POLLIN), revents: 0),
            ]
            let heartbeat = configuration.heartbeatSeconds
            let timeout: Int32 = heartbeat > 0 ? Int32(heartbeat * 1000 / 2) : 5000
            _ = poll(&fds, 2, timeout)
            if fds[1].revents != 0 { inbox.clearSignal() }
            try pumpFrames()
        } catch {
            connectionLost(error.error)
        }
    }

    private func waitForRetry() {
        // Commands while disconnected fail fast with `notConnected` (they run against a closed core).
        for command in inbox.drain() { command(self) }
        guard case .waitingToReconnect = machine.state else { return }
        let deadline = retryDeadline ?? .now
        let remaining = deadline - .now
        if remaining > .zero {
            var fds = [pollfd(fd: inbox.wakeFD, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 1, Int32(max(1, remaining.milliseconds)))
            if fds[0].revents != 0 { inbox.clearSignal() }
            return
        }
        _ = machine.retryDue()
    }

    private func finish() {
        let error = AMQPError(.closedByUser, "the connection was closed")
        let leftovers = channels.removeAll()
        fail(
            leftovers, notSent: error,
            unknownOutcome: AMQPError(.outcomeUnknown, "the connection was closed before the broker confirmed this publish"))
        for consumer in leftovers.consumers { consumer.continuation.finish() }
        if let conn {
            amqp_connection_close(conn, AMQP_REPLY_SUCCESS)
        }
        destroyConnection()
        shared.update(connected: false, generation: machine.currentGeneration, error: error)
        metrics.connected(false)
        for command in inbox.close() { command(self) }
        closeWaiters.forEach { $0.resume() }
        closeWaiters.removeAll()
    }

    // MARK: - Connection setup and loss

    private func openConnection(to endpoint: AMQPConfiguration.Endpoint) throws(AMQPError) {
        guard let conn = amqp_new_connection() else { throw AMQPError(.protocolError, "rabbitmq-c could not allocate a connection") }
        self.conn = conn
        var timeout = timeval(
            tv_sec: Int(configuration.connectionTimeout.components.seconds),
            tv_usec: Int(configuration.connectionTimeout.components.attoseconds / 1_000_000_000_000))
        let socket: OpaquePointer?
        if let tls = configuration.tls {
            socket = amqp_ssl_socket_new(conn)
            guard let socket else { throw AMQPError(.invalidConfiguration, "rabbitmq-c was built without TLS support") }
            if let ca = tls.caCertificateFile, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
                throw AMQPError(.invalidConfiguration, "cannot load the CA certificate '\(ca)'")
            }
            if let cert = tls.certificateFile, let key = tls.keyFile, amqp_ssl_socket_set_key(socket, cert, key) != AMQP_STATUS_OK.rawValue
            {
                throw AMQPError(.invalidConfiguration, "cannot load the client certificate '\(cert)' or key '\(key)'")
            }
            amqp_ssl_socket_set_verify_peer(socket, tls.verifyPeer ? 1 : 0)
            amqp_ssl_socket_set_verify_hostname(socket, tls.verifyPeer ? 1 : 0)
        } else {
            socket = amqp_tcp_socket_new(conn)
        }
        guard let socket else { throw AMQPError(.protocolError, "rabbitmq-c could not create a socket") }
        let status = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &timeout)
        // rabbitmq-c's TLS statuses are -0x0200 … -0x02FF (verify, host name, handshake).
        if configuration.tls != nil, (-0x02FF)...(-0x0200) ~= status {
            throw AMQPError(
                .tlsFailed,
                "TLS with the broker at \(endpoint) failed: \(CBridge.statusText(status)); check the URL's cacertfile "
                    + "(the CA that signed the node's certificate) and that the host name matches the certificate",
                libraryStatus: status)
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw AMQPError(
                .connectionRefused,
                "cannot reach the broker at \(endpoint): \(CBridge.statusText(status)); is RabbitMQ running? (deploy/local/broker.sh start)",
                libraryStatus: status)
        }
        amqp_set_handshake_timeout(conn, &timeout)
        var rpcTimeout = timeval(tv_sec: 30, tv_usec: 0)
        amqp_set_rpc_timeout(conn, &rpcTimeout)
        let reply = CBridge.withTable([
            "connection_name": .string(configuration.connectionName),
            // Ask the broker to say when it blocks our publishes (memory or disk alarm).
            "capabilities": .table(["connection.blocked": .bool(true)]),
        ]) { table in
            var table = table
            return bb_login_plain(
                conn, configuration.virtualHost, 0, 131_072, Int32(configuration.heartbeatSeconds), &table, configuration.user,
                configuration.password)
        }
        try checkLogin(reply)
        do {
            try openChannel(Self.controlChannel)
        } catch {
            throw error.error
        }
    }

    /// Classifies a failed login by the broker's reply code or rabbitmq-c's status (`LoginFailure`),
    /// never by the broker's wording.
    private func checkLogin(_ reply: amqp_rpc_reply_t) throws(AMQPError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            guard let close = bb_reply_connection_close(reply)?.pointee else {
                throw AMQPError(.protocolError, "unexpected server reply to login (method \(reply.reply.id))")
            }
            sendConnectionCloseOk()
            throw LoginFailure.refused(
                replyCode: close.reply_code, replyText: CBridge.string(close.reply_text), user: configuration.user,
                virtualHost: configuration.virtualHost)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            throw LoginFailure.libraryFailure(status: reply.library_error, user: configuration.user)
        default:
            throw AMQPError(.protocolError, "unexpected reply to login")
        }
    }

    private func sendConnectionCloseOk() {
        guard let conn else { return }
        var ok = amqp_connection_close_ok_t(dummy: 0)
        amqp_send_method(conn, 0, BB_CONNECTION_CLOSE_OK, &ok)
    }

    private func destroyConnection() {
        if let conn {
            amqp_destroy_connection(conn)
        }
        conn = nil
    }

    /// The connection is gone: fail what can't survive, then let the state machine decide.
    private func connectionLost(_ error: AMQPError) {
        destroyConnection()
        let leftovers = channels.connectionLost()
        switch machine.connectionLost() {
        case .failInFlightAndRetry(let delay):
            logger.warning("AMQP connection lost; will reconnect", metadata: ["error": "\(error)"])
            fail(
                leftovers,
                notSent: AMQPError(.notConnected, "the broker connection was lost before this message was sent; it was not published"),
                unknownOutcome: AMQPError(
                    .outcomeUnknown,
                    "the broker connection was lost before this publish was confirmed; the broker may or may not have it (\(error.message))"
                ))
            shared.update(connected: false, generation: machine.currentGeneration, error: error)
            metrics.connected(false)
            recordUnconfirmed()
            retryDeadline = .now + jitter(delay)
        case .none:
            // Already closed or reconnecting: nothing is in flight, but fail whatever was, all the same.
            fail(
                leftovers, notSent: notConnectedError(),
                unknownOutcome: AMQPError(.outcomeUnknown, "the connection went away before the broker confirmed this publish"))
        }
    }

    private func fail(_ leftovers: Channels.Leftovers, notSent: AMQPError, unknownOutcome: AMQPError) {
        for token in leftovers.unconfirmed { token.batch.complete(token.index, .failure(unknownOutcome)) }
        for token in leftovers.unsent { token.batch.complete(token.index, .failure(notSent)) }
    }

    /// After a reconnect: the recorded topology, then every channel and consumer.
    private func restore() throws(CoreFailure) {
        for step in topology.replay {
            switch step {
            case .exchange(let exchange): try rpcDeclare(exchange)
            case .queue(let queue): _ = try rpcDeclare(queue, passive: false)
            case .binding(let binding): try rpcBind(binding)
            }
        }
        try reopenClosedChannels()
    }

    /// Closes each publisher channel that saw a nack once nothing is in flight on it; it is
    /// reopened (fresh delivery tags) when its `close-ok` arrives.
    ///
    /// After a quorum queue's leader moves (a cluster node died), RabbitMQ 3.10 can keep nacking
    /// every publish on a channel that was opened while the election ran, for as long as the
    /// channel lives; a fresh channel publishes normally. Found by the cluster failover test: the
    /// outbox relay's retries were refused for minutes on the old channel.
    private func recycleNackedChannels() throws(CoreFailure) {
        for number in channels.channelsToRecycle() {
            logger.notice("AMQP publisher channel reopened after a nack", metadata: ["channel": "\(number)"])
            try sendChannelClose(number)
        }
    }

    /// Sends `channel.close` and returns at once; the table has the channel `closing` until its
    /// `close-ok` arrives as an ordinary frame (`dispatchMethod`).
    private func sendChannelClose(_ number: UInt16) throws(CoreFailure) {
        guard let conn else { return }
        let status = bb_send_channel_close(conn, number)
        guard status == AMQP_STATUS_OK.rawValue else {
            throw .connection(
                AMQPError(.connectionClosed, "closing channel \(number) failed: \(CBridge.statusText(status))", libraryStatus: status))
        }
    }

    /// Opens every closed channel (after a reconnect, a broker's channel.close, a recycle) and sends
    /// what waits on it.
    private func reopenClosedChannels() throws(CoreFailure) {
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

    private func openChannel(_ number: UInt16) throws(CoreFailure) {
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

    // MARK: - Replies and frames

    /// Turns an RPC reply into success or a channel / connection failure, answering the
    /// broker's close so the channel or connection is properly shut.
    private func check(_ reply: amqp_rpc_reply_t, channel: UInt16, what: String) throws(CoreFailure) {
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
    private func channelClosed(_ channel: UInt16, code: UInt16, text: String, what: String) -> AMQPError {
        if let conn {
            var ok = amqp_channel_close_ok_t(dummy: 0)
            amqp_send_method(conn, channel, BB_CHANNEL_CLOSE_OK, &ok)
        }
        let error = AMQPError(.channelClosed, "the broker closed the channel during \(what)", replyCode: code, replyText: text)
        for token in channels.closedByBroker(channel) { token.batch.complete(token.index, .failure(error)) }
        logger.debug("AMQP channel closed by broker", metadata: ["channel": "\(channel)", "reply": "\(code) \(text)"])
        return error
    }

    private func pumpFrames() throws(CoreFailure) {
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
            if let consumer = channels[number]?.consumer, !consumer.pending.isEmpty {
                consumer.continuation.yield(consumer.pending)
                consumer.pending.removeAll(keepingCapacity: true)
            }
        }
        for number in channels.withWaitingPublishes { try flushWaiting(number) }
    }

    private func dispatch(_ frame: amqp_frame_t) throws(CoreFailure) {
        if frame.frame_type == AMQP_FRAME_METHOD {
            try dispatchMethod(frame)
        } else if frame.frame_type == AMQP_FRAME_HEADER || frame.frame_type == AMQP_FRAME_BODY {
            try dispatchContent(frame)
        }
    }

    /// A content header or body frame: the next part of the message its channel is assembling.
    /// The channel's frame memory is released after each, so a large message does not pile up in
    /// rabbitmq-c's pool (what `amqp_read_message` does, allocating the declared size at once).
    private func dispatchContent(_ frame: amqp_frame_t) throws(CoreFailure) {
        let channel = frame.channel
        defer { if let conn { amqp_maybe_release_buffers_on_channel(conn, channel) } }
        guard var assembly = channels.takeContent(on: channel) else { return }
        let step: ContentAssembly.Step
        if frame.frame_type == AMQP_FRAME_HEADER {
            guard let decoded = bb_frame_basic_properties(frame) else { return }
            step = assembly.header(CBridge.decode(decoded.pointee), bodySize: frame.payload.properties.body_size)
        } else {
            let fragment = frame.payload.body_fragment
            step = assembly.body(UnsafeRawBufferPointer(start: fragment.bytes, count: fragment.len))
        }
        switch step {
        case .needMore:
            channels.setContent(assembly, on: channel)
        case .protocolError(let text):
            throw .connection(AMQPError(.protocolError, "channel \(channel): \(text)"))
        case .complete(let message):
            completed(message, on: channel)
        }
    }

    /// A message whose content has fully arrived: a delivery for its consumer, or a returned publish.
    private func completed(_ message: ContentAssembly.Message, on channel: UInt16) {
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
            consumer.pending.append(delivery)
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
    private func dispatchMethod(_ frame: amqp_frame_t) throws(CoreFailure) {
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
                        tag: deliver.delivery_tag, redelivered: deliver.redelivered != 0, exchange: CBridge.string(deliver.exchange),
                        routingKey: CBridge.string(deliver.routing_key), consumerTag: CBridge.string(deliver.consumer_tag)),
                    limit: consumer.bodyLimit), on: channel)
        case BB_BASIC_ACK:
            guard let ack = bb_frame_basic_ack(frame)?.pointee else { return }
            let now = Self.uptimeNanoseconds()
            for (token, outcome) in channels.ack(channel, tag: ack.delivery_tag, multiple: ack.multiple != 0) {
                metrics.confirmed(afterNanoseconds: now &- token.sentAt)
                token.batch.complete(token.index, result(for: outcome))
            }
            try flushWaiting(channel)
        case BB_BASIC_NACK:
            guard let nack = bb_frame_basic_nack(frame)?.pointee else { return }
            for (token, outcome) in channels.nack(channel, tag: nack.delivery_tag, multiple: nack.multiple != 0) {
                token.batch.complete(token.index, result(for: outcome))
            }
        case BB_BASIC_RETURN:
            // Only the headers matter (they carry the confirm tag); the body is our own and is dropped.
            guard let ret = bb_frame_basic_return(frame)?.pointee, channels[channel] != nil else { return }
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

    private func result(for outcome: ConfirmTracker<PublishToken>.Outcome) -> Result<Void, AMQPError> {
        switch outcome {
        case .confirmed: .success(())
        case .nacked:
            .failure(AMQPError(.publishNacked, "the broker refused responsibility for this message (basic.nack); publish it again"))
        case .returned(let code, let text):
            .failure(
                AMQPError(.unroutable, "no queue is bound for this message (mandatory publish returned)", replyCode: code, replyText: text))
        }
    }

    // MARK: - Commands (called on the thread by the public API)

    func notConnectedError() -> AMQPError {
        if case .closed = machine.state { return AMQPError(.closedByUser, "the connection is closed") }
        return AMQPError(.notConnected, "the broker connection is down and being re-established; nothing was sent, try again")
    }

    /// Runs a control-channel RPC, reopening the channel if the broker closed it earlier.
    func withControl<R>(_ body: (amqp_connection_state_t) throws(CoreFailure) -> R) -> Result<R, AMQPError> {
        guard machine.isConnected, let conn else { return .failure(notConnectedError()) }
        do {
            if channels[Self.controlChannel]?.isOpen != true { try openChannel(Self.controlChannel) }
            return .success(try body(conn))
        } catch {
            if case .connection(let e) = error { connectionLost(e) }
            return .failure(error.error)
        }
    }

    func rpcDeclare(_ exchange: ExchangeDeclaration, passive: Bool = false) throws(CoreFailure) {
        guard let conn else { throw .connection(notConnectedError()) }
        CBridge.withBytes(exchange.name) { name in
            CBridge.withBytes(exchange.kind.rawValue) { kind in
                CBridge.withTable(exchange.arguments) { args in
                    _ = amqp_exchange_declare(
                        conn, Self.controlChannel, name, kind, passive ? 1 : 0, exchange.durable ? 1 : 0, exchange.autoDelete ? 1 : 0,
                        exchange.internal ? 1 : 0, args)
                }
            }
        }
        try check(
            amqp_get_rpc_reply(conn), channel: Self.controlChannel,
            what: "\(passive ? "checking" : "declaring") exchange '\(exchange.name)'")
    }

    func rpcDeclare(_ queue: QueueDeclaration, passive: Bool) throws(CoreFailure) -> QueueState {
        guard let conn else { throw .connection(notConnectedError()) }
        let ok = CBridge.withBytes(queue.name) { name in
            CBridge.withTable(queue.arguments) { args in
                amqp_queue_declare(
                    conn, Self.controlChannel, name, passive ? 1 : 0, queue.durable ? 1 : 0, queue.exclusive ? 1 : 0,
                    queue.autoDelete ? 1 : 0, args)
            }
        }
        try check(
            amqp_get_rpc_reply(conn), channel: Self.controlChannel, what: "\(passive ? "checking" : "declaring") queue '\(queue.name)'")
        guard let ok else { return QueueState(name: queue.name, messageCount: 0, consumerCount: 0) }
        return QueueState(
            name: CBridge.string(ok.pointee.queue), messageCount: ok.pointee.message_count, consumerCount: ok.pointee.consumer_count)
    }

    func rpcBind(_ binding: BindingDeclaration) throws(CoreFailure) {
        guard let conn else { throw .connection(notConnectedError()) }
        CBridge.withBytes(binding.queue) { queue in
            CBridge.withBytes(binding.exchange) { exchange in
                CBridge.withBytes(binding.routingKey) { key in
                    CBridge.withTable(binding.arguments) { args in
                        _ = amqp_queue_bind(conn, Self.controlChannel, queue, exchange, key, args)
                    }
                }
            }
        }
        try check(
            amqp_get_rpc_reply(conn), channel: Self.controlChannel,
            what: "binding '\(binding.queue)' to '\(binding.exchange)' with '\(binding.routingKey)'")
    }

    func declare(_ exchange: ExchangeDeclaration, passive: Bool = false) -> Result<Void, AMQPError> {
        let result = withControl { _ throws(CoreFailure) in try rpcDeclare(exchange, passive: passive) }
        if case .success = result, !passive { topology.declared(exchange) }
        return result
    }

    func declare(_ queue: QueueDeclaration, passive: Bool) -> Result<QueueState, AMQPError> {
        let result = withControl { _ throws(CoreFailure) in try rpcDeclare(queue, passive: passive) }
        if case .success = result, !passive { topology.declared(queue) }
        return result
    }

    func bind(_ binding: BindingDeclaration) -> Result<Void, AMQPError> {
        let result = withControl { _ throws(CoreFailure) in try rpcBind(binding) }
        if case .success = result { topology.bound(binding) }
        return result
    }

    func deleteQueue(_ name: String) -> Result<UInt32, AMQPError> {
        let result = withControl { conn throws(CoreFailure) -> UInt32 in
            let ok = CBridge.withBytes(name) { amqp_queue_delete(conn, Self.controlChannel, $0, 0, 0) }
            try check(amqp_get_rpc_reply(conn), channel: Self.controlChannel, what: "deleting queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
        if case .success = result { topology.deletedQueue(name) }
        return result
    }

    func deleteExchange(_ name: String) -> Result<Void, AMQPError> {
        let result = withControl { conn throws(CoreFailure) in
            _ = CBridge.withBytes(name) { amqp_exchange_delete(conn, Self.controlChannel, $0, 0) }
            try check(amqp_get_rpc_reply(conn), channel: Self.controlChannel, what: "deleting exchange '\(name)'")
        }
        if case .success = result { topology.deletedExchange(name) }
        return result
    }

    func purgeQueue(_ name: String) -> Result<UInt32, AMQPError> {
        withControl { conn throws(CoreFailure) -> UInt32 in
            let ok = CBridge.withBytes(name) { amqp_queue_purge(conn, Self.controlChannel, $0) }
            try check(amqp_get_rpc_reply(conn), channel: Self.controlChannel, what: "purging queue '\(name)'")
            return ok?.pointee.message_count ?? 0
        }
    }

    func openPublisher(window: Int) -> Result<UInt16, AMQPError> {
        guard machine.isConnected else { return .failure(notConnectedError()) }
        return openNew(.publisher(window: max(1, window)))
    }

    func startConsumer(_ consumer: ConsumerRecord) -> Result<UInt16, AMQPError> {
        guard machine.isConnected else { return .failure(notConnectedError()) }
        return openNew(.consumer(consumer))
    }

    private func openNew(_ role: Channels.Role) -> Result<UInt16, AMQPError> {
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

    func publish(_ messages: [OutboundMessage], on number: UInt16, batch: PublishBatch) {
        guard machine.isConnected else {
            let error = notConnectedError()
            for index in messages.indices { batch.complete(index, .failure(error)) }
            return
        }
        let publishes = messages.enumerated().map { index, message in (message, PublishToken(batch: batch, index: index)) }
        let enqueued = channels.enqueue(publishes, on: number)
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
    private func flushWaiting(_ number: UInt16) throws(CoreFailure) {
        guard let conn else { return }
        defer { recordUnconfirmed() }
        while let (message, tag) = channels.nextPublish(on: number, stamp: { $0.sentAt = Self.uptimeNanoseconds() }) {
            let extra: FieldTable = message.mandatory ? [Self.returnTagHeader: .int(Int64(tag))] : [:]
            let status = CBridge.withBytes(message.exchange) { exchange in
                CBridge.withBytes(message.routingKey) { key in
                    CBridge.withBytes(message.body) { body in
                        CBridge.withProperties(message.properties, extraHeaders: extra) { props in
                            amqp_basic_publish(conn, number, exchange, key, message.mandatory ? 1 : 0, 0, props, body)
                        }
                    }
                }
            }
            guard status == AMQP_STATUS_OK.rawValue else {
                throw .connection(AMQPError(.connectionClosed, "publish failed: \(CBridge.statusText(status))", libraryStatus: status))
            }
        }
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
        if let consumer = channels[channel]?.consumer { settled(consumer, tag: tag, settlement: settlement) }
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

    // MARK: - Metrics

    /// Publishes sent and not yet confirmed, over every publisher channel.
    private func recordUnconfirmed() {
        metrics.unconfirmed(channels.outstandingCount)
    }

    private func settled(_ consumer: ConsumerRecord, tag: UInt64, settlement: Settlement) {
        let multiple: Bool
        switch settlement {
        case .ack(let m), .nack(_, let m): multiple = m
        case .reject: multiple = false
        }
        if multiple { consumer.unsettled = consumer.unsettled.filter { $0 > tag } } else { consumer.unsettled.remove(tag) }
        consumer.gauges?.inUse.record(consumer.unsettled.count)
    }

    static func uptimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    func close(waiter: CheckedContinuation<Void, Never>?) {
        if let waiter { closeWaiters.append(waiter) }
        _ = machine.close()
    }

    /// For tests: drop the socket as if the network failed.
    func simulateNetworkFailure() {
        if let conn { shutdown(amqp_get_sockfd(conn), Int32(SHUT_RDWR)) }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
