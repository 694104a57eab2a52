import BridgebackAMQP
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Jobs longer than the broker's `consumer_timeout` (docs/delivery.md, "Long jobs"), on the real
/// fleet against the real broker, whose timeout the test lowers to 3 s for the workers' channels.
extension BrokerBacked {
    @Suite(.serialized)
    struct LongJobIntegrationTests {
        static let timeoutMS = 3000

        /// `rabbitmqctl eval` against the test broker.
        @discardableResult
        static func eval(_ expression: String) async throws -> String {
            try await Broker.runOffPool(Broker.script, ["ctl", "eval", expression])
        }

        /// The broker's `{ok,N}` for a rabbit application setting, or nil when unset.
        static func setting(_ key: String) async throws -> Int? {
            let text = try await eval("application:get_env(rabbit, \(key)).")
            guard let range = text.range(of: #"\{ok,(\d+)\}"#, options: .regularExpression) else { return nil }
            return Int(text[range].filter(\.isNumber))
        }

        static func restore(_ key: String, _ value: Int?) async throws {
            if let value {
                try await eval("application:set_env(rabbit, \(key), \(value)).")
            } else {
                try await eval("application:unset_env(rabbit, \(key)).")
            }
        }

        /// How many times the `count-run` recipe with `tag` executed.
        static func runs(_ fleet: Fleet, _ tag: String) -> Int {
            let text = (try? String(contentsOf: fleet.directory.appendingPathComponent("runs.log"), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0 == tag }.count
        }

        static func notices(_ fleet: Fleet, _ id: String) -> [[String: Any]] {
            fleet.received().filter { !$0.duplicate && $0.notice["job_id"] as? String == id }.map(\.notice)
        }

        /// The worker whose log names the job.
        static func worker(running id: String, in fleet: Fleet, among names: [String]) -> ManagedProcess? {
            names.compactMap { fleet.process($0) }.first { $0.ownOutput.contains(id) }
        }

        /// Held unacknowledged past the lowered timeout, a plain delivery on a channel opened in the
        /// window comes back: proof that the broker enforces 3 s in this run.
        static func controlRedelivery(queue: String) async throws -> AMQPConnection {
            let connection = try await Broker.connect("long-job-control")
            try await connection.declare(.quorum(queue))
            let publisher = try await connection.makePublisher(confirmWindow: 1)
            try await publisher.publish(
                OutboundMessage(exchange: "", routingKey: queue, body: Array("held".utf8), properties: MessageProperties(persistent: true)))
            return connection
        }

        @Test func aJobLongerThanTheConsumerTimeoutRunsOnceAndALostOrStoppedOneIsNeverRunAgain() async throws {
            let savedTimeout = try await Self.setting("consumer_timeout")
            let savedTick = try await Self.setting("channel_tick_interval")
            let control = Broker.uniqueName("long-control")
            var controlConnection: AMQPConnection?
            do {
                try await withFleet("long") { fleet in
                    try await fleet.prepareBroker()
                    try await fleet.startReceiver()
                    try await fleet.startCoordinator(lostGrace: 1, sweepInterval: 1)
                    // Channels read consumer_timeout when they open, and check it on every tick (60 s
                    // by default): lower both, open the workers' channels, then put the timeout back
                    // so no other test's new channel gets it. The tick stays short until the end.
                    try await Self.eval(
                        "application:set_env(rabbit, channel_tick_interval, 500), application:set_env(rabbit, consumer_timeout, \(Self.timeoutMS))."
                    )
                    let environment = ["BRIDGEBACK_CONSUMER_TIMEOUT_MS": "\(Self.timeoutMS)"]
                    do {
                        try await fleet.startWorker("worker1", environment: environment)
                        try await fleet.startWorker("worker2", environment: environment)
                        controlConnection = try await Self.controlRedelivery(queue: control)
                    } catch {
                        try? await Self.restore("consumer_timeout", savedTimeout)
                        throw error
                    }
                    let controlConsumer = try await controlConnection!.consume(queue: control, prefetch: 1)
                    try await Self.restore("consumer_timeout", savedTimeout)
                    try await fleet.startAdmission()
                    let final = "hooks:\(fleet.parent)"

                    // 1. An 8 s job under a 3 s consumer_timeout runs exactly once and is delivered once.
                    let clock = ContinuousClock()
                    let submitted = clock.now
                    let long = try await fleet.submit(
                        fleet.detach("count-run", params: ["tag": "long", "seconds": 8], final: final, mode: "direct", deadline: 60))
                    let longID = try #require(long.jobID, "submit → \(long.status): \(long.raw)")
                    // Meanwhile the control delivery, never acked, is handed out again after the timeout.
                    let controlDeliveries = try await take(2, from: controlConsumer, timeout: .seconds(20))
                    #expect(!controlDeliveries[0].redelivered && controlDeliveries[1].redelivered)
                    controlDeliveries[1].ack()
                    try await eventually("the long job's notice arrived", timeout: .seconds(30)) { !Self.notices(fleet, longID).isEmpty }
                    #expect(clock.now - submitted >= .seconds(8))
                    #expect(Self.runs(fleet, "long") == 1, "the long job executed \(Self.runs(fleet, "long")) times")
                    let notices = Self.notices(fleet, longID)
                    #expect(notices.count == 1)
                    #expect(notices.first?["kind"] as? String == "result", "\(notices)")
                    #expect((notices.first?["text"] as? String)?.contains("ran long") == true, "\(notices)")
                    let started = ["worker1", "worker2"].compactMap { fleet.process($0)?.ownOutput }.joined()
                        .split(separator: "\n").filter { $0.contains("job started") && $0.contains(longID) }
                    #expect(started.count == 1, "starts: \(started)")
                    #expect(!started.contains { $0.contains("attempt=2") }, "\(started)")
                    // `delivered` commits once the receiver has answered, just after it recorded the notice.
                    try await eventually("the ledger says delivered", timeout: .seconds(10)) {
                        (try? fleet.ledgerJobs())?[longID]?.finalOutcome == "delivered"
                    }
                    #expect(try fleet.ledgerJobs()[longID]?.duplicates == 0)
                    let admin = try await Broker.connect("long-job-check")
                    #expect(try await admin.inspectQueue("bb.jobs.\(fleet.pool)").messageCount == 0)
                    await admin.close()

                    // 2. A worker killed mid-run: one `lost` notice, and the job never runs again
                    //    although another worker is idle on the same queue.
                    let lost = try await fleet.submit(
                        fleet.detach("count-run", params: ["tag": "lost", "seconds": 6], final: final, mode: "direct", deadline: 4))
                    let lostID = try #require(lost.jobID, "submit → \(lost.status): \(lost.raw)")
                    try await eventually("the job started", timeout: .seconds(20)) { Self.runs(fleet, "lost") == 1 }
                    let victim = try #require(Self.worker(running: lostID, in: fleet, among: ["worker1", "worker2"]))
                    victim.kill(SIGKILL)
                    victim.waitForExit()
                    try await eventually("the lost notice arrived", timeout: .seconds(20)) { !Self.notices(fleet, lostID).isEmpty }
                    try await Task.sleep(for: .seconds(1))
                    #expect(Self.runs(fleet, "lost") == 1, "the killed job ran again")
                    #expect(Self.notices(fleet, lostID).count == 1)
                    #expect(Self.notices(fleet, lostID).first?["kind"] as? String == "lost")
                    #expect(try fleet.ledgerJobs()[lostID]?.noticeKind == "lost")

                    // 3. A worker stopped by SIGTERM cannot give a long job back: it ends `failure`, said so.
                    let survivor = victim.name == "worker1" ? "worker2" : "worker1"
                    try await fleet.startWorker("worker3", environment: environment)
                    let stopped = try await fleet.submit(
                        fleet.detach("count-run", params: ["tag": "stopped", "seconds": 30], final: final, mode: "direct", deadline: 60))
                    let stoppedID = try #require(stopped.jobID, "submit → \(stopped.status): \(stopped.raw)")
                    try await eventually("the job started", timeout: .seconds(20)) { Self.runs(fleet, "stopped") == 1 }
                    let stopping = try #require(Self.worker(running: stoppedID, in: fleet, among: [survivor, "worker3"]))
                    stopping.kill(SIGTERM)
                    try await eventually("the stopped job's notice arrived", timeout: .seconds(20)) {
                        !Self.notices(fleet, stoppedID).isEmpty
                    }
                    stopping.waitForExit()
                    try await Task.sleep(for: .seconds(1))
                    #expect(Self.runs(fleet, "stopped") == 1, "the stopped job ran again")
                    let stoppedNotices = Self.notices(fleet, stoppedID)
                    #expect(stoppedNotices.count == 1)
                    #expect(stoppedNotices.first?["kind"] as? String == "failure", "\(stoppedNotices)")
                    #expect((stoppedNotices.first?["text"] as? String)?.contains("not run again") == true, "\(stoppedNotices)")
                }
            } catch {
                try? await Self.restore("consumer_timeout", savedTimeout)
                try? await Self.restore("channel_tick_interval", savedTick)
                if let controlConnection {
                    _ = try? await controlConnection.deleteQueue(control)
                    await controlConnection.close()
                }
                throw error
            }
            try await Self.restore("channel_tick_interval", savedTick)
            if let controlConnection {
                _ = try? await controlConnection.deleteQueue(control)
                await controlConnection.close()
            }
        }
    }
}
