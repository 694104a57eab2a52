import BridgebackAMQP
import BridgebackCore
import Foundation
import GRDB
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Issue #10 item 1 on the real broker: a message far over the limit costs its consumer a
/// bounded amount of memory. A 21 MB completion for a live job (with the job's real capability)
/// reaches the receiver as one notice whose result is cut and says so, naming the full size,
/// while the coordinator stays up and its peak memory grows by far less than the message; a
/// 21 MB progress message reaches `bridgeback watch` cut and marked, and the next one after it
/// arrives as usual.
extension BrokerBacked {
    @Suite(.serialized)
    struct OversizeIntegrationTests {
        /// VmHWM (peak resident memory) and VmRSS of a process, in bytes.
        static func memory(_ pid: Int32) -> (peak: Int, resident: Int) {
            let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            func field(_ name: String) -> Int {
                guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
                return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "") ?? 0) * 1024
            }
            return (field("VmHWM"), field("VmRSS"))
        }

        /// 21 MB of text: what a runaway command's output would be.
        static let hugeText = String(repeating: "line of runaway output 0123456789 ", count: 21 << 20 / 34)

        @Test func a21MBCompletionIsDeliveredOnceCutAndMarkedWhileTheCoordinatorStaysSmall() async throws {
            try await withFleet("oversize") { fleet in
                // No worker: the job stays live, and this test publishes its completion as a worker would.
                try await fleet.startAll(workers: 0)
                let reply = try await fleet.submit(
                    fleet.detach("echo", params: ["text": "never run"], final: "hooks:\(fleet.parent)", mode: "direct"))
                let id = try #require(reply.jobID, "\(reply.raw)")
                try await eventually("the coordinator holds the contract", timeout: .seconds(30)) {
                    (try? fleet.ledgerJobs()[id]?.state) == "awaiting_completion"
                }
                let capability = try SecretRedactionIntegrationTests.capability(fleet, job: id)
                let coordinator = try #require(fleet.process("coordinator"))
                let before = Self.memory(coordinator.pid)

                let completion = Completion(
                    jobID: try JobID(wireString: id), worker: "runaway", startedAt: Date(), finishedAt: Date(),
                    outcome: .succeeded(result: Self.hugeText), capability: capability)
                let body = Array(try WireCodec.encode(completion))
                #expect(body.count > 21_000_000)
                let worker = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"), connectionName: "runaway"))
                let publisher = try await worker.makePublisher()
                try await publisher.publish(
                    OutboundMessage(
                        exchange: "bb.completions", routingKey: "completion", body: body,
                        properties: MessageProperties(
                            contentType: "application/json", type: "bridgeback.completion.v1", userID: "bb-worker")))
                await worker.close()

                try await eventually("the cut result reaches the receiver", timeout: .seconds(60)) {
                    !TrustIntegrationTests.notices(fleet, job: id).isEmpty
                }
                try await Task.sleep(for: .seconds(1))
                let notices = TrustIntegrationTests.notices(fleet, job: id)
                #expect(notices.count == 1, "one final notice: \(notices.count)")
                let text = notices.first?["text"] as? String ?? ""
                #expect(
                    text.contains(
                        "[truncated: the worker's message was \(body.count) bytes, over the \(MessageLimits.maxMessageBytes)-byte limit"),
                    "\(text.suffix(300))")
                #expect(text.hasPrefix("line of runaway output"), "the kept prefix is the result's start")
                #expect(text.utf8.count < MessageLimits.keptStringBytes + 1000)
                #expect(try fleet.ledgerJobs()[id]?.finalOutcome == "delivered")

                #expect(coordinator.isRunning, "the coordinator is still up")
                let after = Self.memory(coordinator.pid)
                let growth = after.peak - before.peak
                #expect(before.peak > 0 && growth < 64 << 20, "peak memory grew \(growth >> 20) MiB for a \(body.count >> 20) MiB message")
                #expect(coordinator.ownOutput.contains("completion over the message limit"), "the coordinator says what it cut")
            }
        }

        @Test func a21MBProgressMessageReachesAWatcherCutAndTheNextOneArrivesAsUsual() async throws {
            try await withFleet("oversize-progress") { fleet in
                let watch = try fleet.start(
                    "watch", ["watch", "work:\(fleet.parent)", "--coordinator", "", "--log-level", "info"],
                    amqpURL: Broker.url("BRIDGEBACK_WATCH_AMQP_URL"))
                try await watch.waitForLog("watch queue bound")
                let before = Self.memory(watch.pid)

                let worker = try await AMQPConnection.connect(
                    AMQPConfiguration(url: Broker.url("BRIDGEBACK_WORKER_AMQP_URL"), connectionName: "runaway"))
                let publisher = try await worker.makePublisher()
                let job = JobID.make()
                for (sequence, message) in [(1, Self.hugeText), (2, "after the big one")] {
                    let event = ProgressEvent(
                        jobID: job, workSurface: try SurfaceID(validating: "work:\(fleet.parent)"), sequence: sequence, phase: .running,
                        message: message, at: Date())
                    try await publisher.publish(
                        OutboundMessage(
                            exchange: "bb.progress", routingKey: "work:\(fleet.parent)", body: Array(try WireCodec.encode(event)),
                            properties: MessageProperties(
                                contentType: "application/json", persistent: false, type: "bridgeback.progress.v1", userID: "bb-worker"),
                            mandatory: false))
                }
                await worker.close()
                try await watch.waitForLog("after the big one", timeout: .seconds(60))
                let output = watch.ownOutput
                #expect(output.contains("[cut: the message was"), "\(output.suffix(500))")
                #expect(output.contains("line of runaway output"), "the kept prefix is shown")
                #expect(watch.isRunning)
                let growth = Self.memory(watch.pid).peak - before.peak
                #expect(before.peak > 0 && growth < 64 << 20, "peak memory grew \(growth >> 20) MiB")
                watch.kill(SIGTERM)
            }
        }
    }
}
