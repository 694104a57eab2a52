import BridgebackAMQP
import BridgebackCore
import BridgebackWorker
import Foundation
import Testing

/// The worker's cancel feed on the real broker: when the broker ends its subscription to the
/// stream (here: the stream is deleted and made again), the feed subscribes again instead of
/// going quiet, so a cancel published afterwards still reaches the worker.
extension BrokerBacked {
    @Suite(.serialized)
    struct CancelFeedIntegrationTests {
        static func stream(_ name: String) -> QueueDeclaration {
            QueueDeclaration(name: name, durable: true, arguments: ["x-queue-type": "stream"])
        }

        static func notice(_ id: JobID, to queue: String) throws -> OutboundMessage {
            let notice = CancelNotice(jobID: id, requestedBy: "test", requestedAt: Date())
            return OutboundMessage(
                exchange: "", routingKey: queue, body: Array(try WireCodec.encode(notice)), properties: MessageProperties())
        }

        @Test func theFeedSubscribesAgainAfterTheBrokerCancelsIt() async throws {
            let connection = try await Broker.connect("cancel-feed")
            defer { Task { await connection.close() } }
            let admin = try await Broker.connect("cancel-feed-admin")
            defer { Task { await admin.close() } }
            let queue = Broker.uniqueName("cancel-feed")
            try await admin.declare(Self.stream(queue))
            let publisher = try await admin.makePublisher()
            func publish(_ id: JobID) async throws {
                for result in await publisher.publish(contentsOf: [try Self.notice(id, to: queue)]) { try result.get() }
            }

            let source = AMQPCancelSource(connection: connection, queue: queue, resubscribeDelay: .milliseconds(200))
            let feed = try await source.open()
            var notices = feed.makeAsyncIterator()
            let first = JobID.make()
            try await publish(first)
            #expect(try await notices.next()?.jobID == first)

            // The broker cancels the subscription (basic.cancel): the stream is gone, then back.
            _ = try await admin.deleteQueue(queue)
            try await Task.sleep(for: .milliseconds(500))
            try await admin.declare(Self.stream(queue))
            let second = JobID.make()
            try await publish(second)

            let watchdog = Task {
                try await Task.sleep(for: .seconds(20))
                await connection.close()  // ends the feed if it went quiet: the expectation below fails
            }
            defer { watchdog.cancel() }
            #expect(try await notices.next()?.jobID == second)
            _ = try await admin.deleteQueue(queue)
        }
    }
}
