/// The basic properties of a message: what Bridgeback uses is named; everything is optional.
public struct MessageProperties: Sendable, Hashable {
    public var contentType: String?
    public var contentEncoding: String?
    public var headers: FieldTable
    /// `true` asks the broker to write the message to disk (delivery mode 2).
    public var persistent: Bool
    public var priority: UInt8?
    public var correlationID: String?
    public var replyTo: String?
    /// Per-message TTL in milliseconds, as the string AMQP wants.
    public var expiration: String?
    public var messageID: String?
    /// Seconds since 1970.
    public var timestamp: UInt64?
    public var type: String?
    /// When set, RabbitMQ checks it equals the connection's user: consumers can trust who published.
    public var userID: String?
    public var appID: String?

    public init(
        contentType: String? = nil, contentEncoding: String? = nil, headers: FieldTable = [:], persistent: Bool = true,
        priority: UInt8? = nil, correlationID: String? = nil, replyTo: String? = nil, expiration: String? = nil,
        messageID: String? = nil, timestamp: UInt64? = nil, type: String? = nil, userID: String? = nil,
        appID: String? = nil
    ) {
        self.contentType = contentType
        self.contentEncoding = contentEncoding
        self.headers = headers
        self.persistent = persistent
        self.priority = priority
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.appID = appID
    }
}

/// A message to publish.
public struct OutboundMessage: Sendable, Hashable {
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    public var properties: MessageProperties
    /// With `mandatory`, a message no queue takes fails with ``AMQPError/Code/unroutable``
    /// instead of vanishing.
    public var mandatory: Bool

    public init(
        exchange: String, routingKey: String, body: [UInt8], properties: MessageProperties = .init(),
        mandatory: Bool = true
    ) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.properties = properties
        self.mandatory = mandatory
    }
}

/// A declaration of an exchange; recorded and replayed after a reconnect.
public struct ExchangeDeclaration: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable { case direct, topic, fanout, headers }
    public var name: String
    public var kind: Kind
    public var durable: Bool
    public var autoDelete: Bool
    public var `internal`: Bool
    public var arguments: FieldTable

    public init(
        name: String, kind: Kind, durable: Bool = true, autoDelete: Bool = false, internal: Bool = false, arguments: FieldTable = [:]
    ) {
        self.name = name
        self.kind = kind
        self.durable = durable
        self.autoDelete = autoDelete
        self.internal = `internal`
        self.arguments = arguments
    }
}

/// A declaration of a queue; recorded and replayed after a reconnect under the same name and
/// arguments (exclusive queues too). A server-named queue (empty name) is not replayed: the
/// broker would name it differently, so its owner must declare it again (`RecordedTopology`).
public struct QueueDeclaration: Sendable, Hashable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: FieldTable

    public init(name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false, arguments: FieldTable = [:]) {
        self.name = name
        self.durable = durable
        self.exclusive = exclusive
        self.autoDelete = autoDelete
        self.arguments = arguments
    }

    /// A replicated quorum queue. `deliveryLimit` bounds redeliveries (3.10 has no default);
    /// dead-lettering is at-least-once when a dead-letter exchange is given.
    public static func quorum(
        _ name: String, deliveryLimit: Int? = nil, deadLetterExchange: String? = nil, deadLetterRoutingKey: String? = nil,
        singleActiveConsumer: Bool = false, messageTTL: Int? = nil, extra: FieldTable = [:]
    ) -> QueueDeclaration {
        var args: FieldTable = ["x-queue-type": "quorum"]
        if let deliveryLimit { args["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
        if let deadLetterExchange {
            args["x-dead-letter-exchange"] = .string(deadLetterExchange)
            args["x-dead-letter-strategy"] = "at-least-once"
            args["x-overflow"] = "reject-publish"
        }
        if let deadLetterRoutingKey { args["x-dead-letter-routing-key"] = .string(deadLetterRoutingKey) }
        if singleActiveConsumer { args["x-single-active-consumer"] = true }
        if let messageTTL { args["x-message-ttl"] = .int(Int64(messageTTL)) }
        args.merge(extra) { _, new in new }
        return QueueDeclaration(name: name, durable: true, arguments: args)
    }
}

/// A binding of a queue to an exchange.
public struct BindingDeclaration: Sendable, Hashable {
    public var queue: String
    public var exchange: String
    public var routingKey: String
    public var arguments: FieldTable

    public init(queue: String, exchange: String, routingKey: String, arguments: FieldTable = [:]) {
        self.queue = queue
        self.exchange = exchange
        self.routingKey = routingKey
        self.arguments = arguments
    }
}

/// What `queue.declare` answered.
public struct QueueState: Sendable, Hashable {
    public var name: String
    public var messageCount: UInt32
    public var consumerCount: UInt32
}
