import ArgumentParser
import BridgebackAMQP
import Foundation
import Logging

/// A short, visible publish/consume round trip through the real broker: the first thing a
/// newcomer runs to see that the transport works.
struct RoundTripCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roundtrip",
        abstract: "Publish a few messages with confirms to a quorum queue, consume them, and say what happened.")

    @Option(help: "Broker URL (default: BRIDGEBACK_AMQP_URL).")
    var amqpURL: String?

    @Option(help: "How many messages.")
    var count: Int = 5

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        logging.bootstrap()
        let configuration = try AMQPConfiguration(url: try resolveAMQPURL(amqpURL), connectionName: "bridgeback-roundtrip")
        print("→ connecting to \(configuration.redactedURL)")
        let connection = try await AMQPConnection.connect(configuration)
        let queue = "bb.roundtrip.\(UUID().uuidString.prefix(8).lowercased())"
        try await connection.declare(.quorum(queue, deliveryLimit: 3))
        print("→ declared quorum queue \(queue) (x-delivery-limit 3)")
        let publisher = try await connection.makePublisher(confirmWindow: 16)
        let started = ContinuousClock.now
        for index in 1...count {
            let body = "hello #\(index) from bridgeback at \(Date())"
            try await publisher.publish(
                OutboundMessage(
                    exchange: "", routingKey: queue, body: Array(body.utf8),
                    properties: MessageProperties(contentType: "text/plain", messageID: "roundtrip-\(index)")))
            print("  published roundtrip-\(index) — broker confirmed (persistent, on a quorum of replicas)")
        }
        let consumer = try await connection.consume(queue: queue, prefetch: 10)
        var received = 0
        for try await delivery in consumer {
            received += 1
            print("  consumed \(delivery.properties.messageID ?? "?"): \"\(String(decoding: delivery.body, as: UTF8.self))\" — acked")
            delivery.ack()
            if received == count { break }
        }
        let elapsed = ContinuousClock.now - started
        try await connection.deleteQueue(queue)
        await connection.close()
        print(
            "✓ \(count) published with confirms, \(received) consumed and acked in \(elapsed.formatted(.units(allowed: [.milliseconds]))); queue removed"
        )
    }
}
