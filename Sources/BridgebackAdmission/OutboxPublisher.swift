public import BridgebackAMQP
public import Logging

/// Where the outbox relay sends messages. The AMQP implementation is `AMQPOutboxPublisher`;
/// tests pass a fake that records, fails or delays on demand.
public protocol OutboxPublisher: Sendable {
    /// Publishes in order with confirms; returns one outcome per message once all are known.
    func publish(_ messages: [OutboundMessage]) async -> [Result<Void, AMQPError>]
    /// Whether a broker connection is up right now (for `GET /health`).
    func isConnected() async -> Bool
    /// Whether the broker blocked publishes (memory or disk alarm), for `GET /health`.
    func isBlocked() async -> Bool
    /// Closes whatever connection is open.
    func shutdown() async
}

extension OutboxPublisher {
    /// Publishers that cannot be blocked (fakes) never are.
    public func isBlocked() async -> Bool { false }
}

/// Publishes to RabbitMQ, connecting lazily so admission starts (and keeps accepting
/// requests into its outbox) while the broker is down.
///
/// A failed connect answers every message with `notConnected`; the relay's backoff paces the
/// next attempt. Once connected, `AMQPConnection` reconnects by itself and reopens the
/// publisher channel; a publisher whose channel was closed for good is replaced.
public actor AMQPOutboxPublisher: OutboxPublisher {
    private let configuration: AMQPConfiguration
    private let logger: Logger
    private var connection: AMQPConnection?
    private var publisher: AMQPPublisher?

    public init(configuration: AMQPConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func publish(_ messages: [OutboundMessage]) async -> [Result<Void, AMQPError>] {
        guard !messages.isEmpty else { return [] }
        let publisher: AMQPPublisher
        do {
            publisher = try await ready()
        } catch {
            let failure =
                (error as? AMQPError).map {
                    AMQPError(.notConnected, "cannot reach the broker at \(configuration.redactedURL): \($0.message)")
                }
                ?? AMQPError(.notConnected, "cannot reach the broker at \(configuration.redactedURL): \(error)")
            return messages.map { _ in .failure(failure) }
        }
        let results = await publisher.publish(contentsOf: messages)
        if results.contains(where: { if case .failure(let e) = $0 { e.code == .closedByUser } else { false } }) {
            // The channel is gone (closed by us or for good): open a fresh one next time.
            self.publisher = nil
        }
        return results
    }

    private func ready() async throws -> AMQPPublisher {
        if let publisher { return publisher }
        let connection: AMQPConnection
        if let existing = self.connection {
            connection = existing
        } else {
            connection = try await AMQPConnection.connect(configuration, logger: logger)
            logger.info("connected to the broker", metadata: ["amqp.url": "\(configuration.redactedURL)"])
            self.connection = connection
        }
        let publisher = try await connection.makePublisher(confirmWindow: 256)
        self.publisher = publisher
        return publisher
    }

    public func isConnected() async -> Bool { connection?.isConnected ?? false }

    public func isBlocked() async -> Bool { connection?.isBlocked ?? false }

    public func shutdown() async {
        await connection?.close()
        connection = nil
        publisher = nil
    }
}
