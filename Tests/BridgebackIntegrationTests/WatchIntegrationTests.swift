import BridgebackAMQP
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `bridgeback watch` as a real process, connected as the bb-watch user: proves the user's
/// permissions allow its client-named bb.watch.* queue, and that it prints what is published.
extension BrokerBacked {
    @Suite(.serialized)
    struct WatchIntegrationTests {
        /// The built executable: beside the test bundle (any --scratch-path), else .build/debug.
        static var binary: String {
            if let path = ProcessInfo.processInfo.environment["BRIDGEBACK_BIN"], !path.isEmpty { return path }
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bridgeback")
            if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
            return Broker.repoRoot.appendingPathComponent(".build/debug/bridgeback").path
        }

        /// A `bridgeback watch` process with stdout and stderr in files.
        final class WatchProcess: Sendable {
            let process: Process
            let stdout: URL
            let stderr: URL

            /// `amqpURL`: the broker user to watch as (default: the operator's bb-watch).
            init(_ arguments: [String], amqpURL: String? = nil) throws {
                let tag = UUID().uuidString.prefix(8).lowercased()
                stdout = FileManager.default.temporaryDirectory.appendingPathComponent("bb-watch-\(tag).out")
                stderr = FileManager.default.temporaryDirectory.appendingPathComponent("bb-watch-\(tag).err")
                for url in [stdout, stderr] { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
                let process = Process()
                process.executableURL = URL(fileURLWithPath: WatchIntegrationTests.binary)
                process.arguments = ["watch"] + arguments + ["--coordinator", ""]
                var environment = ProcessInfo.processInfo.environment
                environment["BRIDGEBACK_WATCH_AMQP_URL"] = amqpURL ?? Broker.url("BRIDGEBACK_WATCH_AMQP_URL")
                environment["BRIDGEBACK_AMQP_URL"] = nil  // must work with the watch user alone
                process.environment = environment
                process.standardOutput = try FileHandle(forWritingTo: stdout)
                process.standardError = try FileHandle(forWritingTo: stderr)
                process.standardInput = FileHandle.nullDevice
                try process.run()
                self.process = process
            }

            var output: String { (try? String(contentsOf: stdout, encoding: .utf8)) ?? "" }
            var errors: String { (try? String(contentsOf: stderr, encoding: .utf8)) ?? "" }

            /// Waits for the "watching …" note, printed once the queue is bound and consumed.
            func waitUntilWatching() async throws {
                try await eventually("bridgeback watch is consuming") {
                    guard self.process.isRunning || self.errors.contains("watching") else {
                        throw TestFailure("bridgeback watch exited with \(self.process.terminationStatus):\n\(self.errors)")
                    }
                    return self.errors.contains("watching")
                }
            }

            func waitForExit(timeout: Duration = .seconds(30)) async throws -> Int32 {
                try await eventually("bridgeback watch exits", timeout: timeout) { !self.process.isRunning }
                return process.terminationStatus
            }

            func cleanup() {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                try? FileManager.default.removeItem(at: stdout)
                try? FileManager.default.removeItem(at: stderr)
            }
        }

        /// A progress event, published without `mandatory` (a surface nobody watches is normal).
        static func progress(job: String, surface: String, sequence: Int, message: String, fraction: Double) -> OutboundMessage {
            let body = """
                {"at":"2025-10-09T08:53:50.250Z","fraction":\(fraction),"job_id":"\(job)","message":"\(message)",\
                "phase":"running","schema":"bridgeback.progress.v1","sequence":\(sequence),"work_surface":"\(surface)","worker":"worker-t/1"}
                """
            return OutboundMessage(
                exchange: "bb.progress", routingKey: surface, body: Array(body.utf8),
                properties: MessageProperties(contentType: "application/json", type: "bridgeback.progress.v1"), mandatory: false)
        }

        @Test func watchAsTheWatchUserPrintsProgressForItsSurfaceOnly() async throws {
            let surface = "work:test-xyz"
            let watch = try WatchProcess([surface, "--count", "1"])
            defer { watch.cleanup() }
            try await watch.waitUntilWatching()

            let admin = try await Broker.connect("watch-test-publisher")
            defer { Task { await admin.close() } }
            let publisher = try await admin.makePublisher()
            // Another surface first: the watcher's binding must not let it through.
            try await publisher.publish(
                Self.progress(
                    job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: "work:someone-else", sequence: 1, message: "not for this watcher",
                    fraction: 0.1))
            try await publisher.publish(
                Self.progress(
                    job: "job_01K742SG7TN426GVR1K1DKM9TR", surface: surface, sequence: 2, message: "step 2/5: dependency check passed",
                    fraction: 0.4))

            let status = try await watch.waitForExit()
            #expect(status == 0, "stderr: \(watch.errors)")
            let lines = watch.output.split(separator: "\n")
            #expect(lines.count == 1, "output: \(watch.output)")
            let line = String(lines.first ?? "")
            #expect(line.contains("work:test-xyz"))
            #expect(line.contains("job_01K742SG7TN426GVR1K1DKM9TR"))
            #expect(line.contains("running 40%"))
            #expect(line.contains("step 2/5: dependency check passed (worker-t/1)"))
            #expect(!watch.output.contains("not for this watcher"))
            #expect(watch.errors.contains("bb.watch."), "the queue is client-named: \(watch.errors)")
        }

        @Test func inboxAndJSONThenSIGINTStopsCleanlyAndTheQueueGoes() async throws {
            let parent = "p-watch-\(UUID().uuidString.prefix(6).lowercased())"
            let watch = try WatchProcess(["#", "--inbox", parent, "--json"])
            defer { watch.cleanup() }
            try await watch.waitUntilWatching()
            let queue = try #require(
                watch.errors.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("queue=bb.watch.") }?.dropFirst(
                    "queue=".count))

            let admin = try await Broker.connect("watch-test-publisher")
            defer { Task { await admin.close() } }
            let publisher = try await admin.makePublisher()
            let notice = #"{"schema":"bridgeback.final.v1","job_id":"job_01K742SG7TN426GVR1K1DKM9TR","text":"All 5 gates passed."}"#
            try await publisher.publish(
                OutboundMessage(
                    exchange: "bb.inbox", routingKey: parent, body: Array(notice.utf8),
                    properties: MessageProperties(contentType: "application/json")))
            try await eventually("the inbox message is printed raw") { watch.output.contains(notice) }

            kill(watch.process.processIdentifier, SIGINT)
            let status = try await watch.waitForExit()
            #expect(status == 0, "stderr: \(watch.errors)")
            // Exclusive and auto-delete: the queue went with the process.
            try await eventually("the watch queue is deleted") {
                do {
                    _ = try await admin.inspectQueue(String(queue))
                    return false
                } catch let error as AMQPError {
                    return error.replyCode == 404
                }
            }
        }
    }
}
