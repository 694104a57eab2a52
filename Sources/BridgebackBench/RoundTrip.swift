public import BridgebackAMQP
import Foundation

/// A short, visible publish/consume round trip through the real broker (`bridgeback roundtrip`):
/// the first thing a newcomer runs to see that the transport works. Narrates on standard output.
public struct RoundTrip: Sendable {
    public var configuration: AMQPConfiguration
    /// How many messages.
    public var count: Int

    public init(configuration: AMQPConfiguration, count: Int) {
        self.configuration = configuration
        self.count = count
    }

    /// Declares a fresh quorum queue, publishes and consumes `count` messages, removes the queue.
    public func run() async throws {
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
