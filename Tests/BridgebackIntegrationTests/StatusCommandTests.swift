import Foundation
import Testing

/// `bridgeback status` against a real fleet and broker: what it says is what is running.
extension BrokerBacked {
    @Suite(.serialized)
    struct StatusCommandTests {
        /// Runs `bridgeback status --json` with the fleet's endpoints; returns (exit status, JSON checks).
        static func status(_ fleet: Fleet, admission: String? = nil) throws -> (code: Int32, overall: String, checks: [[String: Any]]) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fleet.binary)
            process.arguments = [
                "status", "--json", "--admission", admission ?? "http://127.0.0.1:\(fleet.admissionPort)",
                "--coordinator", "http://127.0.0.1:\(fleet.coordinatorPort)", "--token-file", fleet.tokenFile.path,
            ]
            var environment = ProcessInfo.processInfo.environment
            for key in ["BRIDGEBACK_MANAGEMENT_URL", "BRIDGEBACK_MANAGEMENT_USER", "BRIDGEBACK_MANAGEMENT_PASSWORD"] {
                environment[key] = Broker.env[key] ?? environment[key]
            }
            environment["BRIDGEBACK_TOKEN"] = nil
            process.environment = environment
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            return (process.terminationStatus, object["overall"] as? String ?? "", object["checks"] as? [[String: Any]] ?? [])
        }

        /// Runs `bridgeback status --watch 0.5` (text) for `seconds`, then interrupts it; what it printed.
        static func watch(_ fleet: Fleet, seconds: Double) async throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fleet.binary)
            process.arguments = [
                "status", "--watch", "0.5", "--admission", "http://127.0.0.1:\(fleet.admissionPort)", "--coordinator",
                "http://127.0.0.1:\(fleet.coordinatorPort)", "--token-file", fleet.tokenFile.path,
            ]
            var environment = ProcessInfo.processInfo.environment
            for key in ["BRIDGEBACK_MANAGEMENT_URL", "BRIDGEBACK_MANAGEMENT_USER", "BRIDGEBACK_MANAGEMENT_PASSWORD"] {
                environment[key] = Broker.env[key] ?? environment[key]
            }
            environment["BRIDGEBACK_TOKEN"] = nil
            process.environment = environment
            let output = fleet.directory.appendingPathComponent("status-watch.out")
            _ = FileManager.default.createFile(atPath: output.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: output)
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            process.interrupt()
            process.waitUntilExit()
            return try String(contentsOf: output, encoding: .utf8)
        }

        static func check(_ checks: [[String: Any]], _ section: String, _ name: String? = nil) -> [String: Any]? {
            checks.first { $0["section"] as? String == section && (name == nil || $0["name"] as? String == name) }
        }

        @Test func statusShowsTheRunningFleetAndSaysWhatIsUnreachable() async throws {
            try await withFleet("status") { fleet in
                // A file surface whose directory does not exist: a delivery there fails and needs a person.
                fleet.extraSurfaces = [
                    [
                        "id": "broken:\(fleet.parent)", "kind": "file", "address": "/nonexistent-bb-\(fleet.parent)/results.jsonl",
                        "human_name": "a missing directory", "direct_allowed": true,
                    ]
                ]
                try await fleet.startAll(workers: 1)
                let ids = try await fleet.submitAll([
                    fleet.detach("echo", params: ["text": "s"], final: "file:\(fleet.parent)", mode: "direct"),
                    fleet.detach("echo", params: ["text": "f"], final: "broken:\(fleet.parent)", mode: "direct"),
                ])
                try await eventually("the job is delivered", timeout: .seconds(30)) {
                    (try? fleet.ledgerJobs())?[ids[0]]?.finalOutcome == "delivered"
                }
                // The management API refreshes queue figures every few seconds.
                var result = try Self.status(fleet)
                try await eventually("status sees the pool's consumer", timeout: .seconds(20)) {
                    result = try Self.status(fleet)
                    let figures = Self.check(result.checks, "queues", "bb.jobs.\(fleet.pool)")?["figures"] as? [String: Any]
                    return figures?["consumers"] as? Double == 1
                }
                let worker = result.checks.first {
                    $0["section"] as? String == "workers" && ($0["figures"] as? [String: Any])?["pool"] as? String == fleet.pool
                }
                #expect((worker?["figures"] as? [String: Any])?["slots"] as? Double == 4, "\(result.checks)")
                let active = Self.check(result.checks, "coordinator", "active consumer")
                #expect((active?["figures"] as? [String: Any])?["active"] as? Double == 1)
                #expect(active?["verdict"] as? String == "degraded", "one coordinator and no standby: \(String(describing: active))")
                // A standby on the same data directory waits for the ledger lock: status sees it (by its connection).
                try await fleet.startCoordinator(name: "standby", ready: "coordinator standby")
                try await eventually("status sees the standby", timeout: .seconds(20)) {
                    result = try Self.status(fleet)
                    let line = Self.check(result.checks, "coordinator", "active consumer")
                    return (line?["figures"] as? [String: Any])?["standby"] as? Double == 1 && line?["verdict"] as? String == "ok"
                }
                #expect(Self.check(result.checks, "admission")?["verdict"] as? String == "ok", "\(result.checks)")
                let lastHour = Self.check(result.checks, "jobs", "last hour")?["figures"] as? [String: Any]
                #expect((lastHour?["delivered"] as? Double ?? 0) >= 1, "\(result.checks)")
                try await eventually("the broken delivery ends failed", timeout: .seconds(30)) {
                    (try? fleet.ledgerJobs())?[ids[1]]?.finalOutcome == "failed"
                }
                result = try Self.status(fleet)
                let attention = Self.check(result.checks, "deliveries", "need a person")
                #expect(attention?["verdict"] as? String == "degraded", "\(String(describing: attention))")
                #expect((attention?["why"] as? String)?.contains("\(ids[1]) failed") == true, "\(String(describing: attention))")
                #expect((attention?["why"] as? String)?.contains(ids[0]) == false)

                // --watch: the text report, redrawn in place (clear screen, home) until interrupted.
                let watched = try await Self.watch(fleet, seconds: 3)
                let frames = watched.components(separatedBy: "\u{1B}[H\u{1B}[2J").filter { !$0.isEmpty }
                #expect(frames.count >= 2, "--watch 0.5 redrew \(frames.count) times in 3 s: \(watched.prefix(600))")
                let frame = frames.first ?? ""
                #expect(frame.hasPrefix("bridgeback status · ") && frame.contains("overall: "), "\(frame.prefix(300))")
                for section in ["\nqueues\n", "\nworkers\n", "\ncoordinator\n", "\nadmission\n", "\njobs\n", "\ndeliveries\n"] {
                    #expect(frame.contains(section), "no \(section) section in: \(frame)")
                }
                #expect(frame.contains("bb.jobs.\(fleet.pool): "), "\(frame)")

                let queue = Self.check(result.checks, "queues", "bb.jobs.\(fleet.pool)")
                #expect((queue?["figures"] as? [String: Any])?["type"] as? String == "quorum", "\(String(describing: queue))")

                // The worker stops and a job waits: the pool's queue is stalled, and its line says
                // plainly why no oldest-message age is shown (RabbitMQ does not report it for quorum queues).
                let worker1 = try #require(fleet.process("worker1"))
                worker1.kill(SIGKILL)
                worker1.waitForExit()
                _ = try await fleet.submitAll([fleet.detach("echo", params: ["text": "w"], final: "file:\(fleet.parent)", mode: "direct")])
                var stalled: [String: Any]?
                try await eventually("status sees the job waiting with nobody consuming", timeout: .seconds(30)) {
                    result = try Self.status(fleet)
                    stalled = Self.check(result.checks, "queues", "bb.jobs.\(fleet.pool)")
                    return stalled?["verdict"] as? String == "stalled"
                }
                let why = stalled?["why"] as? String ?? ""
                #expect(why.contains("waiting and nobody consumes this queue"), "\(why)")
                #expect(why.contains("oldest message age not reported (quorum queue)"), "\(why)")
                #expect(result.code == 1 && result.overall == "stalled", "\(result.overall)")

                // Admission on a port where nothing listens: that line says unreachable and the exit status is 1.
                let broken = try Self.status(fleet, admission: "http://127.0.0.1:1")
                #expect(broken.code == 1)
                #expect(broken.overall == "unreachable")
                #expect(Self.check(broken.checks, "admission")?["verdict"] as? String == "unreachable")
                let brokenWhy = Self.check(broken.checks, "admission")?["why"] as? String
                #expect(brokenWhy?.contains("unreachable") == true, "\(broken.checks)")
            }
        }
    }
}
