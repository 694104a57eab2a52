import BridgebackAMQP
import Foundation
import Synchronization
import Testing

/// Collects message ids as a consumer receives them, acking each.
final class Received: Sendable {
    private let ids = Mutex<Set<String>>([])
    func insert(_ id: String) { _ = ids.withLock { $0.insert(id) } }
    var all: Set<String> { ids.withLock { $0 } }
}

extension BrokerBacked.AMQPIntegrationTests {
    /// Publishes `total` messages one by one, retrying those whose outcome was a failure;
    /// returns the ids the broker confirmed. `during` runs once, part-way through.
    static func publishThrough(
        _ publisher: AMQPPublisher, queue: String, total: Int, disruptAt: Int, during: @Sendable () async throws -> Void
    ) async throws -> (confirmed: Set<String>, failures: [AMQPError]) {
        var confirmed: Set<String> = []
        var failures: [AMQPError] = []
        var index = 0
        while index < total {
            if index == disruptAt { try await during() }
            let id = "msg-\(index)"
            do {
                try await publisher.publish(message(id, to: queue, id: id))
                confirmed.insert(id)
                index += 1
            } catch let error as AMQPError {
                // Not confirmed: report, wait for the connection, publish again (the consumer dedups by id).
                failures.append(error)
                #expect([.notConnected, .outcomeUnknown, .connectionClosed, .channelClosed].contains(error.code), "\(error)")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return (confirmed, failures)
    }

    @Test func reconnectAfterBrokerRestartResumesConsumingWithNothingLost() async throws {
        let connection = try await Broker.connect("restart")
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("restart")
        try await connection.declare(.quorum(queue))
        let publisher = try await connection.makePublisher(confirmWindow: 16)
        let received = Received()
        let consumer = try await connection.consume(queue: queue, prefetch: 20)
        let consuming = Task {
            for try await delivery in consumer {
                if let id = delivery.properties.messageID { received.insert(id) }
                delivery.ack()
            }
        }
        let generationBefore = connection.generation
        let (confirmed, failures) = try await Self.publishThrough(publisher, queue: queue, total: 300, disruptAt: 150) {
            try Broker.run(Broker.script, ["restart"])
        }
        #expect(connection.generation > generationBefore, "the connection did not reconnect")
        #expect(!failures.isEmpty || connection.generation > generationBefore)
        try await eventually("every confirmed message consumed", timeout: .seconds(60)) {
            received.all.isSuperset(of: confirmed)
        }
        #expect(confirmed.count == 300)
        consuming.cancel()
        await consumer.cancel()
        try await connection.deleteQueue(queue)
    }

    @Test func networkFailureFailsInFlightPublishesLoudlyAndRecovers() async throws {
        let connection = try await Broker.connect("netfail")
        defer { Task { await connection.close() } }
        let queue = Broker.uniqueName("netfail")
        try await connection.declare(.quorum(queue))
        let publisher = try await connection.makePublisher(confirmWindow: 256)
        // A batch in flight while the socket dies: each message gets an outcome, none is silently dropped.
        async let outcomes = publisher.publish(contentsOf: (0..<2000).map { message("x\($0)", to: queue, id: "x\($0)") })
        try await Task.sleep(for: .milliseconds(5))
        await connection.simulateNetworkFailure()
        let results = await outcomes
        #expect(results.count == 2000)
        let failed = results.compactMap { result -> AMQPError? in if case .failure(let e) = result { e } else { nil } }
        for error in failed { #expect([.notConnected, .outcomeUnknown].contains(error.code)) }
        try await eventually("reconnected") { connection.isConnected && connection.generation >= 2 }
        // The recorded queue was re-declared and the publisher channel reopened.
        try await publisher.publish(message("after", to: queue, id: "after"))
        let state = try await connection.inspectQueue(queue)
        #expect(Int(state.messageCount) >= results.count - failed.count + 1)
        try await connection.deleteQueue(queue)
    }
}
