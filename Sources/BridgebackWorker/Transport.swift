public import BridgebackAMQP
public import BridgebackCore
import Foundation

/// One job message as the worker sees it, settled exactly once. The seam that lets the service
/// logic be tested with an in-memory transport; `AMQPDelivery` is the production conformer.
public protocol JobDelivery: Sendable {
    var body: [UInt8] { get }
    /// 1 on the first delivery; the broker's delivery count + 1 after that.
    var attempt: Int { get }
    func ack()
    func nack(requeue: Bool)
    func reject(requeue: Bool)
}

/// A stream of job deliveries that can be stopped (`AMQPConsumer` in production).
public protocol JobStream: AsyncSequence, Sendable where Element: JobDelivery {
    /// Stops the stream; deliveries not yet settled go back to the queue.
    func cancel() async
}

/// Where jobs come from: opened once when the service starts.
public protocol JobSource: Sendable {
    associatedtype Jobs: JobStream
    /// `prefetch` bounds how many unsettled jobs the source hands out (the worker's slots).
    func open(prefetch: Int) async throws -> Jobs
}

/// Where progress and completions go. `publish(completion:)` must return only once the
/// message is safely stored (publisher confirm): the job is acked only after that.
public protocol WorkerPublishing: Sendable {
    func publish(progress: ProgressEvent) async throws
    func publish(completion: Completion) async throws
    /// Publishes `completion` and, once it is safely stored, acks `delivery` (its job); if the
    /// publish fails the job is not settled. The AMQP publisher has its connection's thread send
    /// the ack as the confirm arrives, so jobs whose completions are confirmed together can be
    /// acked with one `multiple` ack.
    func publish<D: JobDelivery>(completion: Completion, thenAck delivery: D) async throws
}

extension WorkerPublishing {
    public func publish<D: JobDelivery>(completion: Completion, thenAck delivery: D) async throws {
        try await publish(completion: completion)
        delivery.ack()
    }
}

// MARK: AMQP

extension AMQPDelivery: JobDelivery {
    public var attempt: Int { (deliveryCount ?? (redelivered ? 1 : 0)) + 1 }
}

extension AMQPConsumer: JobStream {}

/// Consumes `bb.jobs.<pool>` with manual acks.
public struct AMQPJobSource: JobSource {
    public let connection: AMQPConnection
    public let queue: String

    /// `queue` defaults to the pool's queue, `bb.jobs.<pool>`.
    public init(connection: AMQPConnection, pool: String) {
        self.connection = connection
        self.queue = "bb.jobs.\(pool)"
    }

    public func open(prefetch: Int) async throws -> AMQPConsumer {
        // Jobs are bounded at admission; one over the message limit is delivered empty and
        // rejected as undecodable (dead-lettered), never held whole.
        try await connection.consume(queue: queue, prefetch: UInt16(clamping: prefetch), bodyLimit: .prefix(MessageLimits.maxMessageBytes))
    }
}

/// Publishes progress to `bb.progress` (routing key = work surface, not mandatory: nobody may be
/// watching) and completions to `bb.completions` (persistent, mandatory, confirmed), each on its
/// own confirm channel so progress never queues ahead of a completion.
public struct AMQPWorkerPublisher: WorkerPublishing {
    public static let progressExchange = "bb.progress"
    public static let completionExchange = "bb.completions"
    public static let completionRoutingKey = "completion"

    let progress: AMQPPublisher
    let completions: AMQPPublisher
    /// The connection's user; RabbitMQ validates `user_id`, so the coordinator can trust it.
    let userID: String
    let appID: String

    public init(connection: AMQPConnection, appID: String = "bridgeback-worker") async throws {
        self.progress = try await connection.makePublisher(confirmWindow: 256)
        self.completions = try await connection.makePublisher(confirmWindow: 256)
        self.userID = connection.configuration.user
        self.appID = appID
    }

    public func publish(progress event: ProgressEvent) async throws {
        let body = try WireCodec.encode(event)
        let properties = MessageProperties(
            contentType: "application/json", persistent: false, messageID: "\(event.jobID)/\(event.sequence)",
            timestamp: UInt64(max(0, event.at.timeIntervalSince1970)), type: ProgressEvent.schema.description,
            userID: userID, appID: appID)
        try await progress.publish(
            OutboundMessage(
                exchange: Self.progressExchange, routingKey: event.workSurface.rawValue, body: Array(body), properties: properties,
                mandatory: false))
    }

    public func publish(completion: Completion) async throws {
        try await completions.publish(message(for: completion))
    }

    public func publish<D: JobDelivery>(completion: Completion, thenAck delivery: D) async throws {
        guard let delivery = delivery as? AMQPDelivery else {
            try await publish(completion: completion)
            delivery.ack()
            return
        }
        try await completions.publish(message(for: completion), thenAck: delivery)
    }

    private func message(for completion: Completion) throws -> OutboundMessage {
        let body = try WireCodec.encode(completion)
        let properties = MessageProperties(
            contentType: "application/json", persistent: true, messageID: "\(completion.jobID)/completion/\(completion.attempt)",
            timestamp: UInt64(max(0, completion.finishedAt.timeIntervalSince1970)), type: Completion.schema.description,
            userID: userID, appID: appID)
        return OutboundMessage(
            exchange: Self.completionExchange, routingKey: Self.completionRoutingKey, body: Array(body), properties: properties,
            mandatory: true)
    }
}
