import BridgebackAMQP
import Synchronization
import Testing

extension BrokerBacked {
    /// Channels the connection closes on its own, without a blocking RPC inside frame dispatch (a
    /// publisher channel replaced after a nack): the connection carries on, no reconnect, and the
    /// replacement channel publishes.
    @Suite(.serialized)
    struct ChannelLifecycleIntegrationTests {
        @Test func aPublisherChannelReplacedAfterANackPublishesAgain() async throws {
            let connection = try await Broker.connect("recycled")
            defer { Task { await connection.close() } }
            let generation = connection.generation
            let queue = Broker.uniqueName("full")
            // A full queue that refuses more: the broker nacks the publish (basic.nack).
            try await connection.declare(
                QueueDeclaration(name: queue, durable: false, arguments: ["x-max-length": 1, "x-overflow": "reject-publish"]))
            let publisher = try await connection.makePublisher(confirmWindow: 4)
            for round in 0..<3 {
                let fits = await Self.outcome { try await publisher.publish(message("fits \(round)", to: queue)) }
                guard let fits, fits.error == nil else {
                    Issue.record("round \(round): the publish to an empty queue was not confirmed: \(String(describing: fits))")
                    break
                }
                let refused = await Self.outcome { try await publisher.publish(message("refused \(round)", to: queue)) }
                #expect((refused?.error as? AMQPError)?.code == .publishNacked, "round \(round): \(String(describing: refused))")
                #expect(try await connection.purgeQueue(queue) == 1)
                // The nacked channel is closed and reopened behind the scenes; this goes out on the new one.
                let after = await Self.outcome { try await publisher.publish(message("after \(round)", to: queue)) }
                guard let after, after.error == nil else {
                    Issue.record("round \(round): the publish after a nack was not confirmed: \(String(describing: after))")
                    break
                }
                #expect(try await connection.purgeQueue(queue) == 1)
            }
            #expect(connection.generation == generation, "no reconnect was needed")
            await publisher.close()
            try await connection.deleteQueue(queue)
        }

        struct Outcome: Sendable { var error: (any Error)? }

        /// The publish's outcome, or nil when it has none after `timeout` (a channel stuck closing
        /// would leave it waiting forever; a publish does not react to task cancellation).
        static func outcome(timeout: Duration = .seconds(10), _ publish: @escaping @Sendable () async throws -> Void) async -> Outcome? {
            let box = Mutex<Outcome?>(nil)
            let task = Task {
                do {
                    try await publish()
                    box.withLock { $0 = Outcome(error: nil) }
                } catch {
                    box.withLock { $0 = Outcome(error: error) }
                }
            }
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let outcome = box.withLock({ $0 }) { return outcome }
                try? await Task.sleep(for: .milliseconds(10))
            }
            task.cancel()
            return nil
        }
    }
}
