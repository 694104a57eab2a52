import Foundation
import Testing
#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue #6 end to end: inline requests and their outcomes over HTTP (and `audit ingest`), the
/// real `bridgeback audit --deliver` binary against the fleet's admission and ledger files, and
/// the daily report arriving once at the webhook surface — a second run the same day delivers nothing.
extension BrokerBacked {
    @Suite(.serialized)
    struct AuditIntegrationTests {
        /// Runs the built binary to completion; (exit status, stdout, stderr).
        static func run(_ arguments: [String], in directory: URL) throws -> (Int32, String, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Fleet.binary)
            process.arguments = arguments
            process.currentDirectoryURL = directory
            let out = directory.appendingPathComponent("run-\(UUID().uuidString.prefix(6)).out")
            let err = directory.appendingPathComponent("run-\(UUID().uuidString.prefix(6)).err")
            _ = FileManager.default.createFile(atPath: out.path, contents: nil)
            _ = FileManager.default.createFile(atPath: err.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: err)
            try process.run()
            process.waitUntilExit()
            return (
                process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                (try? String(contentsOf: err, encoding: .utf8)) ?? ""
            )
        }

        @Test func theDailyReportIsDeliveredThroughTheFleetExactlyOnce() async throws {
            try await withFleet("audit") { fleet in
                try await fleet.startAll(workers: 1)
                let origin = "cli:\(fleet.parent)"

                // Inline requests, and how the runtime says they went.
                let missed = try await fleet.submit(["origin": origin, "text": "Shepherd the data migration along"])
                let small = try await fleet.submit(["origin": origin, "text": "What does a security sweep cover?"])
                #expect(missed.status == 200 && small.status == 200, "\(missed.raw) \(small.raw)")
                let missedID = try #require(missed.json["request_id"] as? String)
                let smallID = try #require(small.json["request_id"] as? String)
                let outcome = try await fleet.post(
                    JSONSerialization.data(withJSONObject: ["duration_s": 900, "wait_s": 700, "tool_calls": 4, "succeeded": true]),
                    path: "/v1/requests/\(missedID)/outcome")
                #expect(outcome.status == 200, "\(outcome.raw)")
                let unknown = try await fleet.post(
                    JSONSerialization.data(withJSONObject: ["duration_s": 1, "succeeded": true]), path: "/v1/requests/req_01NOSUCH/outcome")
                #expect(unknown.status == 404 && unknown.errorCode == "not_found")

                // The bulk path a runtime that exports logs uses.
                let lines = fleet.directory.appendingPathComponent("outcomes.jsonl")
                try Data(#"{"request_id": "\#(smallID)", "duration_s": 12, "tool_calls": 7, "sources": 3, "succeeded": true}"#.utf8).write(
                    to: lines)
                let url = "http://127.0.0.1:\(fleet.admissionPort)"
                let ingest = try Self.run(
                    ["audit", "ingest", lines.path, "--admission", url, "--token-file", fleet.tokenFile.path], in: fleet.directory)
                #expect(ingest.0 == 0, "\(ingest)")
                #expect(ingest.1.contains("ingested 1 outcomes (1 new, 0 replaced), 0 refused"))

                let config = fleet.directory.appendingPathComponent("audit.json")
                try JSONSerialization.data(withJSONObject: [
                    "delivery": [
                        "origin": origin, "final_surface": "hooks:\(fleet.parent)", "delivery_mode": "direct", "recipe": "deliver-text",
                    ]
                ]).write(to: config)
                let report = fleet.directory.appendingPathComponent("report.md")
                let arguments = [
                    "audit", "--since", "1h", "--admission-db", fleet.directory.appendingPathComponent("admission/admission.sqlite").path,
                    "--ledger", fleet.ledgerPath, "--config", config.path, "--state-dir",
                    fleet.directory.appendingPathComponent("audit-state").path,
                    "--out", report.path, "--deliver", "--admission", url, "--token-file", fleet.tokenFile.path,
                ]
                let first = try Self.run(arguments, in: fleet.directory)
                #expect(first.0 == 0, "\(first)")
                #expect(first.2.contains("report submitted as job_"), "\(first.2)")
                let text = try String(contentsOf: report, encoding: .utf8)
                #expect(text.contains("## `trigger_wording_gap` (1)"))
                #expect(text.contains(missedID))
                #expect(text.contains("## `false_positive_calibration` (1)"))
                #expect(text.contains("No previous report to compare with."))

                try await eventually("the report arrives at the webhook", timeout: .seconds(60)) {
                    fleet.received().contains { ($0.notice["text"] as? String)?.contains("# Bridgeback audit") == true }
                }
                let delivered = fleet.received().filter { !$0.duplicate }
                #expect(delivered.count == 1)
                let notice = try #require(delivered.first?.notice)
                #expect((notice["text"] as? String)?.contains(missedID) == true)

                // The same day again: the same job (idempotency key audit-<day>), no second delivery.
                let second = try Self.run(arguments, in: fleet.directory)
                #expect(second.0 == 0, "\(second)")
                #expect(second.2.contains("already submitted"), "\(second.2)")
                #expect(try String(contentsOf: report, encoding: .utf8).contains("Previous report:"))
                try await Task.sleep(for: .seconds(3))
                #expect(fleet.received().filter { !$0.duplicate }.count == 1)
                let jobs = try fleet.ledgerJobs()
                #expect(jobs.count == 1)
                #expect(jobs.values.first?.finalOutcome == "delivered")
            }
        }
    }
}
