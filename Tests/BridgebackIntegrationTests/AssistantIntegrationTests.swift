import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Issue #17 with clients no one here wrote: the official MCP Python client drives `bridgeback mcp`
/// over stdio and HTTP against a real fleet (Tests/assistants/mcp_client_check.py), and schemathesis
/// checks admission and the coordinator status API against docs/openapi/admission.json and status.json.
///
/// Both need a Python with the packages in Tests/assistants/requirements.txt: set BRIDGEBACK_PYTHON
/// to it (scripts/test creates a virtualenv and sets it). Without it these tests are skipped, and
/// say so, rather than pretending to pass.
enum AssistantClients {
    static var python: String? {
        ProcessInfo.processInfo.environment["BRIDGEBACK_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Runs `arguments` with `environment` added; kills it after `timeout` seconds. (status, output).
    static func run(_ arguments: [String], environment: [String: String], in directory: URL, timeout: Double) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.currentDirectoryURL = Broker.repoRoot
        let log = directory.appendingPathComponent("client-\(UUID().uuidString.prefix(6)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            usleep(500_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
            return (-1, "timed out after \(Int(timeout)) s\n" + ((try? String(contentsOf: log, encoding: .utf8)) ?? ""))
        }
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }
}

extension BrokerBacked {
    @Suite(
        .serialized,
        .enabled(
            if: AssistantClients.python != nil,
            "set BRIDGEBACK_PYTHON to a Python with Tests/assistants/requirements.txt (scripts/test does)"))
    struct AssistantIntegrationTests {
        @Test func theOfficialMCPClientDetachesSeesProgressAndTakesEachNoticeOnceAcrossReconnects() async throws {
            try await withFleet("mcp") { fleet in
                try await fleet.startAll(workers: 1)
                defer {
                    Task {
                        if let admin = try? await Broker.connect("mcp-teardown") {
                            _ = try? await admin.deleteQueue("bb.watch.inbox.\(fleet.parent)")
                            await admin.close()
                        }
                    }
                }
                let script = Broker.repoRoot.appendingPathComponent("Tests/assistants/mcp_client_check.py").path
                let (status, output) = try AssistantClients.run(
                    [AssistantClients.python!, script],
                    environment: [
                        "BRIDGEBACK_BIN": Fleet.binary, "BB_ADMISSION_URL": "http://127.0.0.1:\(fleet.admissionPort)",
                        "BB_COORDINATOR_URL": "http://127.0.0.1:\(fleet.coordinatorPort)", "BB_ORIGIN": "cli:\(fleet.parent)",
                        "BB_PARENT": fleet.parent, "BRIDGEBACK_WATCH_AMQP_URL": Broker.url("BRIDGEBACK_WATCH_AMQP_URL"),
                        "BB_TOKEN": fleet.token, "BB_OTHER_TOKEN": fleet.tokens["other"]!, "BB_PRINCIPALS": fleet.principalsFile.path,
                    ],
                    in: fleet.directory, timeout: 150)
                #expect(status == 0, "the MCP client check failed:\n\(output)")
                #expect(output.contains("all checks passed"), "\(output)")
            }
        }

        /// docs/openapi/admission.json and status.json against the running servers (Tests/assistants/openapi_check.py):
        /// schemathesis, a bounded number of examples per operation, half of the ids real.
        @Test func schemathesisFindsNoDifferenceBetweenTheServersAndTheirOpenAPIDocuments() async throws {
            try await withFleet("openapi") { fleet in
                try await fleet.startAll(workers: 1)
                let script = Broker.repoRoot.appendingPathComponent("Tests/assistants/openapi_check.py").path
                let (status, output) = try AssistantClients.run(
                    [AssistantClients.python!, script],
                    environment: [
                        "BB_ADMISSION_URL": "http://127.0.0.1:\(fleet.admissionPort)",
                        "BB_COORDINATOR_URL": "http://127.0.0.1:\(fleet.coordinatorPort)",
                        "BB_ORIGIN": "cli:\(fleet.parent)", "BB_FINAL": "file:\(fleet.parent)", "BB_TOKEN": fleet.token,
                        "BB_WORK_DIR": fleet.directory.path,
                    ],
                    in: fleet.directory, timeout: 300)
                #expect(status == 0, "schemathesis found a difference:\n\(output)")
                #expect(output.contains("all checks passed"), "\(output)")
            }
        }
    }
}
