import BridgebackAMQP
import BridgebackTopology
import Foundation
import Testing

extension BrokerBacked {
    @Suite(.serialized)
    struct TopologyIntegrationTests {
        static var definitionsURL: URL { Broker.repoRoot.appendingPathComponent("topology/definitions.json") }

        /// A fresh, empty virtual host for one test; removed afterwards.
        static func withScratchVhost(_ body: (AMQPConfiguration) async throws -> Void) async throws {
            let vhost = "scratch-\(UUID().uuidString.prefix(8).lowercased())"
            var config = try Broker.configuration("topology")
            try await Broker.management("PUT", "api/vhosts/\(vhost)")
            try await Broker.management(
                "PUT", "api/permissions/\(vhost)/\(config.user)", json: #"{"configure":".*","write":".*","read":".*"}"#)
            config.virtualHost = vhost
            do {
                try await body(config)
            } catch {
                try? await Broker.management("DELETE", "api/vhosts/\(vhost)")
                throw error
            }
            try await Broker.management("DELETE", "api/vhosts/\(vhost)")
        }

        static func management(_ config: AMQPConfiguration) -> ManagementAPI {
            let port = ProcessInfo.processInfo.environment["BRIDGEBACK_BROKER_MGMT_PORT"] ?? "15672"
            return ManagementAPI(base: "http://127.0.0.1:\(port)", user: config.user, password: config.password)
        }

        @Test func applyOnAnEmptyBrokerThenCheckReportsNoDrift() async throws {
            let definitions = try TopologyDefinitions.load(from: Self.definitionsURL)
            try await Self.withScratchVhost { config in
                let connection = try await AMQPConnection.connect(config)
                defer { Task { await connection.close() } }
                let manager = TopologyManager(definitions: definitions)
                let before = try await manager.check(on: connection, management: Self.management(config))
                #expect(
                    before.drift.filter { $0.kind == .missing }.count == definitions.exchanges.count + definitions.queues.count
                        + definitions.bindings.count)

                let applied = try await manager.apply(on: connection)
                #expect(applied == definitions.exchanges.count + definitions.queues.count + definitions.bindings.count)
                let after = try await manager.check(on: connection, management: Self.management(config))
                #expect(after.isClean, "drift after apply: \(after.drift)")
                #expect(after.checked >= applied)
            }
        }

        @Test func aQueueArgumentChangedByHandIsReported() async throws {
            let definitions = try TopologyDefinitions.load(from: Self.definitionsURL)
            try await Self.withScratchVhost { config in
                let connection = try await AMQPConnection.connect(config)
                defer { Task { await connection.close() } }
                let manager = TopologyManager(definitions: definitions)
                try await manager.apply(on: connection)

                // By hand: recreate the job queue with another delivery limit, and drop a binding's queue.
                try await connection.deleteQueue("bb.jobs.default")
                try await connection.declare(
                    .quorum("bb.jobs.default", deliveryLimit: 9, deadLetterExchange: "bb.dlx", deadLetterRoutingKey: "jobs.dead"))
                try await connection.deleteQueue("bb.parked")

                let report = try await manager.check(on: connection, management: Self.management(config))
                let changed = report.drift.first { $0.object == "queue bb.jobs.default" }
                #expect(changed?.kind == .different)
                #expect(changed?.detail.contains("x-delivery-limit") == true, "\(String(describing: changed))")
                #expect(report.drift.contains { $0.object == "queue bb.parked" && $0.kind == .missing })
                // The recreated queue lost its binding: reported too.
                #expect(report.drift.contains { $0.object.hasPrefix("binding bb.jobs → bb.jobs.default") && $0.kind == .missing })
            }
        }

        /// A scoped watcher without a topic permission on an exchange may bind every key there: `check`
        /// reports it, for the template's watchers and for any `bb-watch-<name>` on the broker.
        @Test func aScopedWatcherWithoutTopicPermissionsIsReported() async throws {
            let definitions = try TopologyDefinitions.load(from: Self.definitionsURL)
            #expect(definitions.topicPermissions.contains { $0.user == "bb-watch-alice" && $0.exchange == "bb.inbox" })
            let config = try Broker.configuration("topology-topic")
            let connection = try await AMQPConnection.connect(config)
            defer { Task { await connection.close() } }
            let user = "bb-watch-tp\(UUID().uuidString.prefix(6).lowercased())"
            try await Broker.management("PUT", "api/users/\(user)", json: #"{"password": "x-unused-x", "tags": ""}"#)
            try await Broker.management(
                "PUT", "api/permissions/bridgeback/\(user)", json: #"{"configure": "^$", "write": "^$", "read": "^$"}"#)
            try await Broker.management(
                "PUT", "api/topic-permissions/bridgeback/\(user)",
                json: #"{"exchange": "bb.progress", "write": "^$", "read": "^(work:x)$"}"#)
            let report: TopologyReport
            do {
                report = try await TopologyManager(definitions: definitions).check(on: connection, management: Self.management(config))
            } catch {
                try? await Broker.management("DELETE", "api/users/\(user)")
                throw error
            }
            try await Broker.management("DELETE", "api/users/\(user)")
            let topic = report.drift.filter { $0.object.hasPrefix("topic permissions") }
            #expect(topic.map(\.object) == ["topic permissions of \(user) on bb.inbox"], "\(topic)")
            #expect(topic.first?.detail.contains("'#'") == true)
        }

        @Test func invalidDefinitionsAreRejectedWithTheObjectNamed() throws {
            let bad =
                #"{"exchanges": [{"name": "x", "type": "sideways", "durable": true, "auto_delete": false, "internal": false, "arguments": {}}]}"#
            #expect(throws: TopologyError.self) { try TopologyDefinitions.parse(Data(bad.utf8)) }
            do {
                _ = try TopologyDefinitions.parse(Data(bad.utf8))
            } catch {
                #expect(error.message.contains("'x'") && error.message.contains("sideways"))
            }
        }
    }
}
