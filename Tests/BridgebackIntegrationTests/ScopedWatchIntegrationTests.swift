import BridgebackAMQP
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Scoped watching (issue 10, item 6) on the real broker: a watcher made the way an operator makes
/// one (`deploy/local/broker.sh watcher add`) binds and receives its own work surface's progress and
/// its own inbox, and the broker refuses (ACCESS_REFUSED) every binding of another person's keys,
/// of `#` and of wildcards, and every queue outside its own `bb.watch.<name>.` prefix.
extension BrokerBacked {
    @Suite(.serialized)
    struct ScopedWatchIntegrationTests {
        /// Two people with their own watchers; removed (users only) when the test ends.
        struct People {
            let alice: String
            let bob: String
            let aliceURL: String
            let bobURL: String
        }

        static func addWatcher(_ name: String, progress: String, inbox: String) throws -> String {
            let output = try Broker.run(Broker.script, ["watcher", "add", name, "--progress", progress, "--inbox", inbox])
            let prefix = "export BRIDGEBACK_WATCH_AMQP_URL='"
            guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }), line.hasSuffix("'") else {
                throw TestFailure("broker.sh watcher add printed no URL:\n\(output)")
            }
            return String(line.dropFirst(prefix.count).dropLast())
        }

        static func withPeople(_ body: (People) async throws -> Void) async throws {
            let tag = UUID().uuidString.prefix(6).lowercased()
            let alice = "alice-\(tag)"
            let bob = "bob-\(tag)"
            let people = People(
                alice: alice, bob: bob,
                aliceURL: try addWatcher(alice, progress: "work:\(alice)", inbox: alice),
                bobURL: try addWatcher(bob, progress: "work:\(bob)", inbox: bob))
            do {
                try await body(people)
            } catch {
                for name in [alice, bob] { _ = try? Broker.run(Broker.script, ["watcher", "remove", name]) }
                throw error
            }
            for name in [alice, bob] { _ = try? Broker.run(Broker.script, ["watcher", "remove", name]) }
        }

        static func connect(_ url: String, _ name: String) async throws -> AMQPConnection {
            try await AMQPConnection.connect(try AMQPConfiguration(url: url, connectionName: name))
        }

        /// Runs `operation` on a fresh connection as `url` and returns the broker's reply code (nil: allowed).
        static func replyCode(_ url: String, _ operation: (AMQPConnection) async throws -> Void) async throws -> UInt16? {
            let connection = try await connect(url, "scoped-watch-probe")
            defer { Task { await connection.close() } }
            do {
                try await operation(connection)
                return nil
            } catch let error as AMQPError {
                return error.replyCode
            }
        }

        static func progress(job: String, surface: String, message: String) -> OutboundMessage {
            WatchIntegrationTests.progress(job: job, surface: surface, sequence: 1, message: message, fraction: 0.5)
        }

        static func inbox(_ key: String, text: String) -> OutboundMessage {
            let body = #"{"schema":"bridgeback.final.v1","job_id":"job_01K742SG7TN426GVR1K1DKM9TR","text":"\#(text)"}"#
            return OutboundMessage(
                exchange: "bb.inbox", routingKey: key, body: Array(body.utf8),
                properties: MessageProperties(contentType: "application/json"),
                mandatory: false)
        }

        @Test func aWatcherReceivesItsOwnKeysAndTheBrokerRefusesEveryOtherBinding() async throws {
            try await Self.withPeople { p in
                // Alice binds her own work surface and inbox and receives what is published there.
                let alice = try await Self.connect(p.aliceURL, "scoped-watch-alice")
                defer { Task { await alice.close() } }
                let queue = "bb.watch.\(p.alice).test"
                _ = try await alice.declare(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true))
                try await alice.bind(BindingDeclaration(queue: queue, exchange: "bb.progress", routingKey: "work:\(p.alice)"))
                try await alice.bind(BindingDeclaration(queue: queue, exchange: "bb.inbox", routingKey: p.alice))
                let consumer = try await alice.consume(queue: queue, prefetch: 10, exclusive: true)

                let admin = try await Broker.connect("scoped-watch-publisher")
                defer { Task { await admin.close() } }
                let publisher = try await admin.makePublisher()
                // Bob's first: had anything let them through, they would arrive before alice's.
                try await publisher.publish(
                    Self.progress(job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: "work:\(p.bob)", message: "bob's step"))
                try await publisher.publish(Self.inbox(p.bob, text: "bob's answer"))
                try await publisher.publish(
                    Self.progress(job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: "work:\(p.alice)", message: "alice's step"))
                try await publisher.publish(Self.inbox(p.alice, text: "alice's answer"))
                let got = try await take(2, from: consumer, acking: true)
                let bodies = got.map { String(decoding: $0.body, as: UTF8.self) }
                #expect(bodies[0].contains("alice's step") && got[0].exchange == "bb.progress", "\(bodies)")
                #expect(bodies[1].contains("alice's answer") && got[1].exchange == "bb.inbox", "\(bodies)")
                #expect(!bodies.joined().contains("bob's"))

                // Bob keeps a durable queue of his own, which alice must not read or delete.
                let bobQueue = "bb.watch.\(p.bob).inbox.\(p.bob)"
                #expect(
                    try await Self.replyCode(p.bobURL) { bob in
                        _ = try await bob.declare(QueueDeclaration(name: bobQueue, durable: true))
                        try await bob.bind(BindingDeclaration(queue: bobQueue, exchange: "bb.inbox", routingKey: p.bob))
                    } == nil)

                // Everything else is refused by the broker, not by the client: 403 ACCESS_REFUSED.
                func bind(_ exchange: String, _ key: String) -> (AMQPConnection) async throws -> Void {
                    { connection in
                        // A name per probe: the previous probe's exclusive queue may outlive its closing connection briefly.
                        let own = "bb.watch.\(p.alice).probe-\(UUID().uuidString.prefix(8).lowercased())"
                        _ = try await connection.declare(QueueDeclaration(name: own, durable: false, exclusive: true, autoDelete: true))
                        try await connection.bind(BindingDeclaration(queue: own, exchange: exchange, routingKey: key))
                    }
                }
                let refused: [(String, (AMQPConnection) async throws -> Void)] = [
                    ("progress #", bind("bb.progress", "#")),
                    ("progress *", bind("bb.progress", "*")),
                    ("progress of bob", bind("bb.progress", "work:\(p.bob)")),
                    ("progress of work:*", bind("bb.progress", "work:*")),
                    ("progress of alice's surface with a tail", bind("bb.progress", "work:\(p.alice).#")),
                    ("inbox #", bind("bb.inbox", "#")),
                    ("inbox of bob", bind("bb.inbox", p.bob)),
                    ("inbox of alice's key with a tail", bind("bb.inbox", "\(p.alice).*")),
                    ("amq.topic #", bind("amq.topic", "#")),
                    (
                        "a queue in bob's prefix",
                        { _ = try await $0.declare(QueueDeclaration(name: "bb.watch.\(p.bob).x", durable: false)) }
                    ),
                    (
                        "an unscoped watch queue",
                        { _ = try await $0.declare(QueueDeclaration(name: "bb.watch.x\(p.alice)", durable: false)) }
                    ),
                    ("reading bob's queue", { _ = try await $0.consume(queue: bobQueue) }),
                    ("deleting bob's queue", { _ = try await $0.deleteQueue(bobQueue) }),
                    (
                        "publishing progress as alice",
                        {
                            let publisher = try await $0.makePublisher()
                            try await publisher.publish(
                                Self.progress(job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: "work:\(p.alice)", message: "forged"))
                        }
                    ),
                ]
                for (what, operation) in refused {
                    let code = try await Self.replyCode(p.aliceURL, operation)
                    #expect(code == 403, "\(what): expected ACCESS_REFUSED, got \(code.map(String.init) ?? "allowed")")
                }
                // Nothing refused leaked into alice's queue (the forged publish included).
                let extra = try? await take(1, from: consumer, acking: true, timeout: .milliseconds(500))
                #expect(extra == nil, "\(extra.map { $0.map { String(decoding: $0.body, as: UTF8.self) } } ?? [])")
                #expect(try await Self.replyCode(p.bobURL) { _ = try await $0.deleteQueue(bobQueue) } == nil)
            }
        }

        @Test func bridgebackWatchAsAScopedWatcherFollowsItsSurfaceAndIsToldWhyHashIsRefused() async throws {
            try await Self.withPeople { p in
                let refused = try WatchIntegrationTests.WatchProcess(["#"], amqpURL: p.aliceURL)
                defer { refused.cleanup() }
                let status = try await refused.waitForExit()
                #expect(status != 0)
                #expect(refused.errors.contains("scoped watcher of '\(p.alice)'"), "\(refused.errors)")

                let watch = try WatchIntegrationTests.WatchProcess(
                    ["work:\(p.alice)", "--inbox", p.alice, "--count", "2"], amqpURL: p.aliceURL)
                defer { watch.cleanup() }
                try await watch.waitUntilWatching()
                #expect(watch.errors.contains("queue=bb.watch.\(p.alice)."), "queues carry the watcher's prefix: \(watch.errors)")
                let admin = try await Broker.connect("scoped-watch-publisher")
                defer { Task { await admin.close() } }
                let publisher = try await admin.makePublisher()
                try await publisher.publish(
                    Self.progress(job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: "work:\(p.alice)", message: "step 1/2: alice"))
                try await publisher.publish(Self.inbox(p.alice, text: "All gates passed."))
                #expect(try await watch.waitForExit() == 0, "\(watch.errors)")
                #expect(watch.output.contains("step 1/2: alice") && watch.output.contains("All gates passed."), "\(watch.output)")
            }
        }

        @Test func bridgebackMCPAsAScopedWatcherKeepsItsInboxUnderItsPrefixAndCannotTakeAnothersParent() async throws {
            try await Self.withPeople { p in
                let queue = "bb.watch.\(p.alice).inbox.\(p.alice)"
                let mcp = try MCPProcess(parent: p.alice, url: p.aliceURL)
                defer { mcp.stop() }
                let admin = try await Broker.connect("scoped-watch-mcp")
                defer { Task { await admin.close() } }
                try await eventually("the MCP server declares its inbox queue") {
                    guard mcp.process.isRunning else { throw TestFailure("bridgeback mcp exited: \(mcp.errors)") }
                    do { _ = try await admin.inspectQueue(queue); return true } catch let error as AMQPError where error.replyCode == 404 {
                        return false
                    }
                }
                mcp.stop()
                _ = try await admin.deleteQueue(queue)

                let other = try MCPProcess(parent: p.bob, url: p.aliceURL)
                defer { other.stop() }
                try await eventually("bridgeback mcp for another person's parent exits") { !other.process.isRunning }
                #expect(other.process.terminationStatus != 0)
                #expect(other.errors.contains("refused"), "\(other.errors)")
                // The queue under alice's own prefix was declared before the bind was refused.
                _ = try? await admin.deleteQueue("bb.watch.\(p.alice).inbox.\(p.bob)")
            }
        }

        /// `bridgeback mcp --parent P` on stdio, connected to the broker as `url`.
        final class MCPProcess: Sendable {
            let process: Process
            let stderr: URL
            let stdin: Pipe

            init(parent: String, url: String) throws {
                stderr = FileManager.default.temporaryDirectory.appendingPathComponent("bb-mcp-\(UUID().uuidString.prefix(8)).err")
                _ = FileManager.default.createFile(atPath: stderr.path, contents: nil)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: WatchIntegrationTests.binary)
                process.arguments = ["mcp", "--origin", "cli:\(parent)", "--parent", parent, "--amqp-url", url, "--log-level", "info"]
                var environment = ProcessInfo.processInfo.environment
                environment["BRIDGEBACK_AMQP_URL"] = nil
                process.environment = environment
                stdin = Pipe()  // held open: stdio MCP ends at end of input
                process.standardInput = stdin
                process.standardOutput = FileHandle.nullDevice
                process.standardError = try FileHandle(forWritingTo: stderr)
                try process.run()
                self.process = process
            }

            var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

            func stop() {
                if process.isRunning {
                    kill(process.processIdentifier, SIGTERM)
                    process.waitUntilExit()
                }
                try? FileManager.default.removeItem(at: stderr)
            }
        }
    }
}
