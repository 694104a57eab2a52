public import BridgebackAMQP
import BridgebackCore
import Foundation
public import Logging
public import ServiceLifecycle

/// Feeds the dashboard's timelines with the progress events workers publish: a private queue
/// `bb.watch.dashboard.<random>` (exclusive, auto-delete, bounded) bound to `bb.progress` with
/// `#`, read on a connection of its own as a watch user (`BRIDGEBACK_DASHBOARD_AMQP_URL`; the
/// coordinator's own user may not read `bb.progress`).
///
/// For people only: if the broker refuses or the connection fails, the error is logged and the
/// service waits for shutdown; delivery never depends on it. Messages that are not progress
/// events (the coordinator's fallback notices share the exchange) are acknowledged and skipped.
public struct ProgressTap: Service {
    let connection: AMQPConnection
    let log: ProgressLog
    let logger: Logger
    /// Messages the queue holds at most if the tap falls behind (the oldest are dropped).
    let maxBacklog: Int

    public init(connection: AMQPConnection, log: ProgressLog, logger: Logger, maxBacklog: Int = 10_000) {
        self.connection = connection
        self.log = log
        self.logger = logger
        self.maxBacklog = maxBacklog
    }

    public func run() async throws {
        let queue = "bb.watch.dashboard.\(UUID().uuidString.prefix(8).lowercased())"
        do {
            try await connection.declare(
                QueueDeclaration(
                    name: queue, durable: false, exclusive: true, autoDelete: true, arguments: ["x-max-length": .int(Int64(maxBacklog))]))
            try await connection.bind(BindingDeclaration(queue: queue, exchange: "bb.progress", routingKey: "#"))
            let consumer = try await connection.consume(queue: queue, prefetch: 256, exclusive: true)
            logger.info("dashboard progress tap consuming", metadata: ["queue": "\(queue)"])
            for try await delivery in consumer.cancelOnGracefulShutdown() {
                if let event = try? WireCodec.decode(ProgressEvent.self, from: Data(delivery.body)) { log.record(event) }
                delivery.ack()
            }
        } catch {
            if Task.isCancelled || Task.isShuttingDownGracefully { return }
            logger.error(
                "dashboard progress tap stopped; timelines show no progress steps", metadata: ["error": "\(error)", "queue": "\(queue)"])
            try? await gracefulShutdown()
        }
    }
}
