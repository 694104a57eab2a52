import Foundation
public import Logging
import Synchronization

/// What other threads may read about a connection while its thread owns the socket.
final class SharedConnectionState: Sendable {
    struct Snapshot: Sendable {
        var connected = false
        var generation = 0
        var lastError: AMQPError?
        /// The broker sent `connection.blocked` (a memory or disk alarm): publishes wait.
        var blocked = false
    }
    private let state = Mutex(Snapshot())
    /// Plain acks sent inside a `multiple` ack (`AMQPConnection.mergedAcks`).
    let mergedAcks = Atomic<Int>(0)

    /// A new or lost connection starts unblocked (the broker re-sends `connection.blocked`).
    func update(connected: Bool, generation: Int, error: AMQPError?) {
        state.withLock { $0 = Snapshot(connected: connected, generation: generation, lastError: error ?? $0.lastError) }
    }

    func update(blocked: Bool) {
        state.withLock { $0.blocked = blocked }
    }

    var snapshot: Snapshot { state.withLock { $0 } }
}

/// A connection to RabbitMQ that survives broker restarts.
///
/// Each connection owns one OS thread: rabbitmq-c is blocking and not thread-safe, so every call
/// into it happens there, and async callers are resumed through continuations. The cooperative
/// pool never blocks on a socket. After the first successful connect, a lost connection is
/// re-established with capped exponential backoff; declared exchanges, queues and bindings are
/// declared again and consumers resume. Publishes that were sent but not confirmed when the
/// connection dropped fail with ``AMQPError/Code/outcomeUnknown``; nothing is dropped silently.
public final class AMQPConnection: Sendable {
    public let configuration: AMQPConfiguration
    let inbox: CommandInbox
    let shared: SharedConnectionState

    private init(configuration: AMQPConfiguration, inbox: CommandInbox, shared: SharedConnectionState) {
        self.configuration = configuration
        self.inbox = inbox
        self.shared = shared
    }

    /// Connects once. Wrong credentials, an unknown vhost or a refused TCP connection fail here
    /// with a clear ``AMQPError``; later losses are handled by reconnecting.
    public static func connect(_ configuration: AMQPConfiguration, logger: Logger = Logger(label: "bridgeback.amqp")) async throws
        -> AMQPConnection
    {
        let inbox = try CommandInbox()
        let shared = SharedConnectionState()
        var logger = logger
        logger[metadataKey: "amqp.connection"] = "\(configuration.connectionName)"
        let capturedLogger = logger
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let thread = Thread {
                let core = ConnectionCore(configuration: configuration, inbox: inbox, shared: shared, logger: capturedLogger)
                core.run(onFirstConnect: continuation)
            }
            thread.name = "amqp-\(configuration.connectionName)"
            thread.start()
        }
        return AMQPConnection(configuration: configuration, inbox: inbox, shared: shared)
    }

    /// Convenience: parse a URL and connect.
    public static func connect(url: String, connectionName: String = "bridgeback", logger: Logger = Logger(label: "bridgeback.amqp"))
        async throws -> AMQPConnection
    {
        try await connect(AMQPConfiguration(url: url, connectionName: connectionName), logger: logger)
    }

    deinit {
        inbox.submit { core in core.close(waiter: nil) }
    }

    /// Whether the connection is up right now (it may be reconnecting).
    public var isConnected: Bool { shared.snapshot.connected }
    /// Whether the broker has blocked this connection's publishes (`connection.blocked`, sent
    /// during a memory or disk alarm) and not yet unblocked them.
    public var isBlocked: Bool { shared.snapshot.blocked }
    /// Counts successful connects; it grows by one after each reconnect.
    public var generation: Int { shared.snapshot.generation }
    /// How many plain acks (``AMQPDelivery/ack()``) went out merged into a `multiple` ack so far
    /// (also `bridgeback_amqp_acks_merged_total`): each one saved the broker a frame and a settle.
    public var mergedAcks: Int { shared.mergedAcks.load(ordering: .relaxed) }

    /// Runs `body` on the connection thread and returns its result.
    func perform<R: Sendable>(_ body: @escaping @Sendable (ConnectionCore) -> Result<R, AMQPError>) async throws -> R {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<R, AMQPError>, Never>) in
            let accepted = inbox.submit { core in continuation.resume(returning: body(core)) }
            if !accepted { continuation.resume(returning: .failure(AMQPError(.closedByUser, "the connection is closed"))) }
        }
        return try result.get()
    }

    // MARK: Topology

    /// Declares an exchange (recorded: re-declared after a reconnect).
    public func declare(_ exchange: ExchangeDeclaration) async throws {
        try await perform { $0.declare(exchange) }
    }

    /// Declares a queue (recorded: re-declared after a reconnect). A queue that exists with
    /// other arguments fails with ``AMQPError/Code/channelClosed`` and reply code 406.
    @discardableResult
    public func declare(_ queue: QueueDeclaration) async throws -> QueueState {
        try await perform { $0.declare(queue, passive: false) }
    }

    /// Checks that an exchange exists without creating it (404 → ``AMQPError/Code/channelClosed``).
    public func inspectExchange(_ name: String) async throws {
        try await perform { $0.declare(ExchangeDeclaration(name: name, kind: .direct), passive: true) }
    }

    /// Checks that a queue exists without creating it (404 → ``AMQPError/Code/channelClosed``).
    public func inspectQueue(_ name: String) async throws -> QueueState {
        try await perform { $0.declare(QueueDeclaration(name: name), passive: true) }
    }

    /// Binds a queue to an exchange (recorded: re-bound after a reconnect).
    public func bind(_ binding: BindingDeclaration) async throws {
        try await perform { $0.bind(binding) }
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String) async throws -> UInt32 {
        try await perform { $0.deleteQueue(name) }
    }

    public func deleteExchange(_ name: String) async throws {
        try await perform { $0.deleteExchange(name) }
    }

    /// Removes every ready message from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> UInt32 {
        try await perform { $0.purgeQueue(name) }
    }

    // MARK: Publishing and consuming

    /// Opens a channel in confirm mode. At most `confirmWindow` messages are unconfirmed at a time;
    /// further messages wait in order on the connection thread (back-pressure, not loss).
    public func makePublisher(confirmWindow: Int = 1024) async throws -> AMQPPublisher {
        let channel = try await perform { $0.openPublisher(window: confirmWindow) }
        return AMQPPublisher(connection: self, channel: channel)
    }

    /// Starts consuming `queue` with manual acknowledgements on a channel of its own.
    /// `prefetch` bounds unacknowledged deliveries (per consumer; quorum queues need that).
    /// `bodyLimit` bounds what one message costs this process (see `BodyLimit`); consumers of
    /// messages other processes publish should set one.
    public func consume(
        queue: String, prefetch: UInt16 = 32, exclusive: Bool = false, arguments: FieldTable = [:], bodyLimit: BodyLimit? = nil
    ) async throws -> AMQPConsumer {
        let (stream, continuation) = AsyncThrowingStream<[AMQPDelivery], any Error>.makeStream()
        let channel = try await perform { core in
            core.startConsumer(
                ConsumerRecord(
                    queue: queue, prefetch: prefetch, exclusive: exclusive, arguments: arguments, bodyLimit: bodyLimit,
                    continuation: continuation))
        }
        let inbox = self.inbox
        continuation.onTermination = { _ in
            inbox.submit { core in core.closeChannel(channel) }
        }
        return AMQPConsumer(stream: stream, connection: self, channel: channel)
    }

    /// Closes the connection: consumers finish, unconfirmed publishes fail with `outcomeUnknown`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !inbox.submit({ core in core.close(waiter: continuation) }) { continuation.resume() }
        }
    }

    /// Test hook: cut the socket as a network failure would, to exercise reconnects.
    public func simulateNetworkFailure() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !inbox.submit({ core in
                core.simulateNetworkFailure(); continuation.resume()
            }) {
                continuation.resume()
            }
        }
    }
}

/// Publishes with publisher confirms on one channel.
public struct AMQPPublisher: Sendable {
    let connection: AMQPConnection
    let channel: UInt16

    /// Publishes one message and returns once the broker has confirmed it (on disk, or accepted
    /// by a quorum of replicas). Throws ``AMQPError`` for nack, return (unroutable), or loss.
    public func publish(_ message: OutboundMessage) async throws {
        try await publish(contentsOf: [message])[0].get()
    }

    /// Publishes `message` and, once the broker has confirmed it, acks `delivery`: the hand-off of
    /// a consumer that turns each delivery into a message (a worker's completion for its job).
    /// The ack is sent by the connection's thread as the confirm arrives, before this returns, so
    /// the acks of messages confirmed together can go out as one `multiple` ack. If the publish
    /// fails, `delivery` is not settled: the caller decides. A delivery from another connection is
    /// acked after the confirm, as ``AMQPDelivery/ack()`` would.
    public func publish(_ message: OutboundMessage, thenAck delivery: AMQPDelivery) async throws {
        guard delivery.acker.inbox === connection.inbox else {
            try await publish(message)
            delivery.ack()
            return
        }
        try await publish(contentsOf: [message], thenAcks: [delivery.acker.request])[0].get()
    }

    /// Publishes messages in order, keeping up to the confirm window in flight, and returns one
    /// outcome per message once all are known.
    public func publish(contentsOf messages: [OutboundMessage]) async -> [Result<Void, AMQPError>] {
        await publish(contentsOf: messages, thenAcks: [])
    }

    private func publish(contentsOf messages: [OutboundMessage], thenAcks: [AckRequest?]) async -> [Result<Void, AMQPError>] {
        let channel = self.channel
        return await withCheckedContinuation { (continuation: CheckedContinuation<[Result<Void, AMQPError>], Never>) in
            let accepted = connection.inbox.submit { core in
                let batch = PublishBatch(count: messages.count, continuation: continuation, thenAcks: thenAcks)
                core.publish(messages, on: channel, batch: batch)
            }
            if !accepted {
                continuation.resume(returning: messages.map { _ in .failure(AMQPError(.closedByUser, "the connection is closed")) })
            }
        }
    }

    /// Closes the channel; unconfirmed publishes on it fail.
    public func close() async {
        let channel = self.channel
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !connection.inbox.submit({ core in
                core.closeChannel(channel); continuation.resume()
            }) {
                continuation.resume()
            }
        }
    }
}

/// Deliveries from one queue as an async sequence. Ending the iteration (or ``cancel()``)
/// cancels the consumer; unacknowledged deliveries go back to the queue.
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery
    let stream: AsyncThrowingStream<[AMQPDelivery], any Error>
    let connection: AMQPConnection
    let channel: UInt16

    /// The connection thread hands deliveries over in chunks (all it read in one pass); the
    /// iterator yields them one at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        var chunks: AsyncThrowingStream<[AMQPDelivery], any Error>.AsyncIterator
        /// The current chunk and the next delivery in it. A delivery is read out by index (its
        /// references retained, a few words) rather than the chunk being reversed and popped,
        /// which moved every delivery (some 300 bytes each) twice more.
        var chunk: [AMQPDelivery] = []
        var index = 0

        public mutating func next() async throws -> AMQPDelivery? {
            while index == chunk.count {
                // Released before waiting, so a consumed chunk's bodies are not held across the wait.
                chunk = []
                index = 0
                guard let next = try await chunks.next() else { return nil }
                chunk = next
            }
            defer { index += 1 }
            return chunk[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(chunks: stream.makeAsyncIterator())
    }

    /// The deliveries as the connection thread handed them over: one array per read pass.
    /// A consumer that settles a whole pass at once (one transaction, then one ``AMQPDelivery/ackMultiple()``
    /// on its last delivery) iterates this instead of the consumer itself; iterate one or the other.
    public var chunks: AsyncThrowingStream<[AMQPDelivery], any Error> { stream }

    /// Cancels the consumer and closes its channel; the sequence finishes.
    public func cancel() async {
        let channel = self.channel
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !connection.inbox.submit({ core in
                core.closeChannel(channel); continuation.resume()
            }) {
                continuation.resume()
            }
        }
    }
}

/// Sends a delivery's settlement back to the connection thread that received it.
struct DeliveryAcker: Sendable, Hashable {
    let inbox: CommandInbox
    let channel: UInt16
    let epoch: Int
    let tag: UInt64

    func send(_ settlement: ConnectionCore.Settlement) {
        if case .ack(multiple: false) = settlement {
            inbox.submitAck(request)
            return
        }
        let (channel, epoch, tag) = (self.channel, self.epoch, self.tag)
        inbox.submit { core in core.settle(settlement, channel: channel, epoch: epoch, tag: tag) }
    }

    var request: AckRequest { AckRequest(channel: channel, epoch: epoch, tag: tag) }

    static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.inbox === rhs.inbox && lhs.channel == rhs.channel && lhs.epoch == rhs.epoch && lhs.tag == rhs.tag
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(inbox))
        hasher.combine(channel)
        hasher.combine(epoch)
        hasher.combine(tag)
    }
}

extension Collection where Element == AMQPDelivery {
    /// Acknowledges each delivery, as ``AMQPDelivery/ack()`` on each would, handing those of one
    /// connection to its thread at once so they can go out as one `multiple` ack (a consumer that
    /// handles a chunk of deliveries and then settles them all).
    public func ackAll() {
        var byInbox: [ObjectIdentifier: (CommandInbox, [AckRequest])] = [:]
        for delivery in self {
            byInbox[ObjectIdentifier(delivery.acker.inbox), default: (delivery.acker.inbox, [])].1.append(delivery.acker.request)
        }
        for (inbox, acks) in byInbox.values { inbox.submitAcks(acks) }
    }
}

/// A message delivered to a consumer. Settle it exactly once with ``ack()``, ``nack(requeue:)``
/// or ``reject(requeue:)``. Settlements are fire-and-forget: if the channel that delivered it has
/// closed meanwhile, the broker has already requeued it and will deliver it again (at-least-once).
public struct AMQPDelivery: Sendable {
    public let body: [UInt8]
    public let properties: MessageProperties
    public let exchange: String
    public let routingKey: String
    /// The broker delivered this message before (to this or another consumer).
    public let redelivered: Bool
    public let deliveryTag: UInt64
    public let consumerTag: String
    let acker: DeliveryAcker
    /// Set when the body was over the consumer's `BodyLimit`: the body's full size in bytes, and
    /// `body` holds only what the limit's reducer kept.
    public internal(set) var oversizeBytes: Int? = nil

    /// How many times a quorum queue has delivered it before (`x-delivery-count`), if known.
    public var deliveryCount: Int? {
        properties.headers["x-delivery-count"]?.intValue.map { Int($0) }
    }

    /// Acknowledges this delivery alone. Plain acks that reach the connection's thread together
    /// may go out as one `multiple` ack, but only where that settles exactly the same deliveries.
    public func ack() { acker.send(.ack(multiple: false)) }
    /// Acknowledges this and every earlier unacknowledged delivery on the same channel.
    public func ackMultiple() { acker.send(.ack(multiple: true)) }
    /// Negative acknowledgement; without requeue the message is dead-lettered (if configured) or dropped.
    public func nack(requeue: Bool = false) { acker.send(.nack(requeue: requeue, multiple: false)) }
    public func reject(requeue: Bool = false) { acker.send(.reject(requeue: requeue)) }
}
