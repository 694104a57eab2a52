import CRabbitMQ

// Declares, binds and deletes on the control channel, recorded for replay after a reconnect.

extension ConnectionCore {
    /// Runs a control-channel RPC, reopening the channel if the broker closed it earlier.
    func withControl<R>(_ body: (amqp_connection_state_t) throws(CoreFailure) -> R) -> Result<R, AMQPError> {
        guard machine.isConnected, let conn else { return .failure(notConnectedError()) }
        do {
            if !channels.isOpen(Self.controlChannel) { try openChannel(Self.controlChannel) }
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
}
