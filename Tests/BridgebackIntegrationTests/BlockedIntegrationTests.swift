import BridgebackAMQP
import Foundation
import Testing

/// A broker resource alarm, for real: the memory watermark set to 0 blocks every publisher.
extension BrokerBacked {
    @Suite(.serialized)
    struct BlockedIntegrationTests {
        @Test func aMemoryAlarmShowsAsBlockedUntilItClearsAndThePublishThenCompletes() async throws {
            let connection = try await Broker.connect("blocked-test")
            let queue = Broker.uniqueName("blocked")
            _ = try await connection.declare(QueueDeclaration(name: queue, durable: false, autoDelete: false))
            let publisher = try await connection.makePublisher()
            #expect(!connection.isBlocked)
            try Broker.run(Broker.script, ["ctl", "set_vm_memory_high_watermark", "0"])
            let restored: @Sendable () throws -> Void = { try Broker.run(Broker.script, ["ctl", "set_vm_memory_high_watermark", "0.4"]) }
            do {
                let publish = Task { await publisher.publish(contentsOf: [message("during the alarm", to: queue)]) }
                try await eventually("connection.blocked arrives", timeout: .seconds(20)) { connection.isBlocked }
                try restored()
                try await eventually("connection.unblocked arrives", timeout: .seconds(20)) { !connection.isBlocked }
                let results = await publish.value
                #expect(results.allSatisfy { (try? $0.get()) != nil }, "the publish held during the alarm did not complete: \(results)")
            } catch {
                try? restored()
                throw error
            }
            try await connection.deleteQueue(queue)
            await connection.close()
        }
    }
}
