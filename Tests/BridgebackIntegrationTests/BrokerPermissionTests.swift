import BridgebackAMQP
import Foundation
import Testing

/// What each broker user of topology/definitions.json can and cannot do, on the real broker
/// (docs/security.md, "Broker users"). Every refusal is the broker's own 403; the one thing a
/// read permission also allows, `queue.purge`, is shown allowed.
extension BrokerBacked {
    @Suite(.serialized)
    struct BrokerPermissionTests {
        enum Outcome: Equatable { case allowed, refused }

        static func outcome(_ operation: () async throws -> Void) async -> Outcome {
            do {
                try await operation()
                return .allowed
            } catch let error as AMQPError where error.replyCode == 403 {
                return .refused
            } catch {
                Issue.record("not a 403: \(error)")
                return .allowed
            }
        }

        static func connect(_ variable: String) async throws -> AMQPConnection {
            var configuration = try AMQPConfiguration(url: Broker.url(variable), connectionName: "permissions")
            configuration.reconnectBaseDelay = .milliseconds(100)
            return try await AMQPConnection.connect(configuration)
        }

        static func publish(_ connection: AMQPConnection, _ exchange: String, _ key: String) async throws {
            let publisher = try await connection.makePublisher()
            defer { Task { await publisher.close() } }
            try await publisher.publish(OutboundMessage(exchange: exchange, routingKey: key, body: Array("{}".utf8), mandatory: false))
        }

        @Test func eachBrokerUserIsRefusedWhatItsRoleDoesNotNeedAndPurgeRidesOnRead() async throws {
            let admin = try await Broker.connect("permissions-admin")
            let pool = "bb.jobs.tperm\(UUID().uuidString.prefix(6).lowercased())"
            _ = try await admin.declare(.quorum(pool))
            defer {
                Task {
                    _ = try? await admin.deleteQueue(pool)
                    await admin.close()
                }
            }
            let worker = try await Self.connect("BRIDGEBACK_WORKER_AMQP_URL")
            let admission = try await Self.connect("BRIDGEBACK_ADMISSION_AMQP_URL")
            let coordinator = try await Self.connect("BRIDGEBACK_COORDINATOR_AMQP_URL")
            let watch = try await Self.connect("BRIDGEBACK_WATCH_AMQP_URL")
            defer { Task { for connection in [worker, admission, coordinator, watch] { await connection.close() } } }

            // A worker: reads its pool, may not read the coordinator's queues, declare, or publish contracts or jobs.
            #expect(await Self.outcome { _ = try await worker.declare(QueueDeclaration(name: "test.perm.worker")) } == .refused)
            #expect(await Self.outcome { _ = try await worker.consume(queue: "bb.coordinator.completions") } == .refused)
            #expect(await Self.outcome { try await Self.publish(worker, "bb.contracts", "contract") } == .refused)
            #expect(await Self.outcome { try await Self.publish(worker, "bb.jobs", "default") } == .refused)
            #expect(await Self.outcome { _ = try await worker.purgeQueue("bb.coordinator.completions") } == .refused)
            // queue.purge is authorised by read permission: a worker credential can empty a job queue.
            #expect(await Self.outcome { _ = try await worker.purgeQueue(pool) } == .allowed)

            // Admission: publishes contracts and jobs, reads nothing, publishes no completion or progress.
            #expect(await Self.outcome { _ = try await admission.consume(queue: pool) } == .refused)
            #expect(await Self.outcome { try await Self.publish(admission, "bb.completions", "completion") } == .refused)
            #expect(await Self.outcome { try await Self.publish(admission, "bb.inbox", "alice") } == .refused)
            #expect(await Self.outcome { _ = try await admission.purgeQueue(pool) } == .refused)

            // The coordinator: cannot forge a completion or read jobs.
            #expect(await Self.outcome { try await Self.publish(coordinator, "bb.completions", "completion") } == .refused)
            #expect(await Self.outcome { _ = try await coordinator.consume(queue: pool) } == .refused)

            // A watcher: writes nothing but its own bb.watch.* queues, reads no queue of the fleet.
            #expect(await Self.outcome { try await Self.publish(watch, "bb.progress", "work:alice") } == .refused)
            #expect(await Self.outcome { try await Self.publish(watch, "bb.completions", "completion") } == .refused)
            #expect(await Self.outcome { _ = try await watch.consume(queue: "bb.coordinator.completions") } == .refused)
            #expect(await Self.outcome { _ = try await watch.purgeQueue(pool) } == .refused)
        }
    }
}
