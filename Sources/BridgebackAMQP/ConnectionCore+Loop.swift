#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif
import CRabbitMQ
import Logging

// The connection thread's loop: connect (and log in), serve commands and frames while connected,
// wait out the backoff while not, and what a lost connection fails.

extension ConnectionCore {
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
    func roundError(_ last: AMQPError) -> AMQPError {
        guard configuration.endpoints.count > 1 else { return last }
        var error = last
        error.message = "no broker node could be reached: " + roundErrors.joined(separator: "; ")
        return error
    }

    func jitter(_ delay: Duration) -> Duration {
        delay + .milliseconds(Int.random(in: 0...max(1, Int(delay.milliseconds / 4))))
    }

    /// One turn while connected: run commands, read what has arrived, sleep until more arrives.
    func serviceConnected() {
        do {
            // Every drained command runs, even after one of them closed or lost the connection:
            // the later ones then fail fast (`notConnected`/`closedByUser`) instead of being
            // dropped with their callers' continuations never resumed.
            runInbox(inbox.drain())
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

    func waitForRetry() {
        // Commands while disconnected fail fast with `notConnected` (they run against a closed core).
        runInbox(inbox.drain())
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

    func finish() {
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
        runInbox(inbox.close())
        closeWaiters.forEach { $0.resume() }
        closeWaiters.removeAll()
    }

    func openConnection(to endpoint: AMQPConfiguration.Endpoint) throws(AMQPError) {
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
                "cannot reach the broker at \(endpoint): \(CBridge.statusText(status)); "
                    + "is RabbitMQ running? (deploy/local/broker.sh start)",
                libraryStatus: status)
        }
        amqp_set_handshake_timeout(conn, &timeout)
        var rpcTimeout = timeval(tv_sec: 30, tv_usec: 0)
        amqp_set_rpc_timeout(conn, &rpcTimeout)
        let reply = CBridge.withTable([
            "connection_name": .string(configuration.connectionName),
            // Ask the broker to say when it blocks our publishes (memory or disk alarm), and to
            // send basic.cancel when a consumer's queue is deleted, so the consumer's stream ends
            // with `.consumerCancelled` instead of going silent for good.
            "capabilities": .table(["connection.blocked": .bool(true), "consumer_cancel_notify": .bool(true)]),
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
    func checkLogin(_ reply: amqp_rpc_reply_t) throws(AMQPError) {
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

    func sendConnectionCloseOk() {
        guard let conn else { return }
        var ok = amqp_connection_close_ok_t(dummy: 0)
        amqp_send_method(conn, 0, BB_CONNECTION_CLOSE_OK, &ok)
    }

    func destroyConnection() {
        if let conn {
            amqp_destroy_connection(conn)
        }
        conn = nil
    }

    /// The connection is gone: fail what can't survive, then let the state machine decide.
    func connectionLost(_ error: AMQPError) {
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

    func fail(_ leftovers: Channels.Leftovers, notSent: AMQPError, unknownOutcome: AMQPError) {
        for token in leftovers.unconfirmed { token.batch.complete(token.index, .failure(unknownOutcome)) }
        for token in leftovers.unsent { token.batch.complete(token.index, .failure(notSent)) }
    }

    /// After a reconnect: the recorded topology, then every channel and consumer.
    func restore() throws(CoreFailure) {
        for step in topology.replay {
            switch step {
            case .exchange(let exchange): try rpcDeclare(exchange)
            case .queue(let queue): _ = try rpcDeclare(queue, passive: false)
            case .binding(let binding): try rpcBind(binding)
            }
        }
        try reopenClosedChannels()
    }
}
