import BridgebackCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import BridgebackWorker

#if canImport(Glibc)
    import Glibc
#endif

/// Every shape in deploy/local/recipes.json, run from the shipped file against local stand-ins:
/// files under /tmp, a loopback HTTP server, the repo's gate and agent scripts. No network.
@Suite("Shipped recipes")
struct ShippedRecipeTests {
    static let catalogURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy/local/recipes.json").standardized

    let scratch: String
    let runner: RecipeRunner

    init() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("bb-shipped-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let environment = [
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
            "BRIDGEBACK_GATE_STATE": scratch + "/gate", "BRIDGEBACK_FAKE_AGENT_PAUSE": "0",
        ]
        let catalog = try RecipeCatalog.load(contentsOf: Self.catalogURL)
        runner = RecipeRunner(catalog: catalog, environment: environment)
    }

    func run(_ name: String, _ params: [String: JSONValue], progress: ProgressReporter = .discard) async throws -> String {
        let (recipe, values) = try runner.prepare(RecipeInvocation(name: name, params: params))
        let context = JobContext(
            jobID: JobID.make(), recipe: recipe, parameters: values, deadline: Date().addingTimeInterval(60), logger: Logger(label: "test"),
            progress: progress)
        return try await runner.run(context)
    }

    func failure(_ name: String, _ params: [String: JSONValue]) async -> WorkerError? {
        do {
            _ = try await run(name, params)
            return nil
        } catch {
            return error as? WorkerError
        }
    }

    func write(_ name: String, _ text: String) -> String {
        let path = scratch + "/" + name
        #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        return path
    }

    @Test func waitForLogSeesALineAppear() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let log = write("app.log", "starting\n")
        let appender = Task {
            try await Task.sleep(for: .milliseconds(2500))
            let handle = try #require(FileHandle(forWritingAtPath: log))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("listening on :8443 (ready)\n".utf8))
            try handle.close()
        }
        let result = try await run("wait-for-log", ["path": .string(log), "pattern": "ready\\)$", "seconds": 20])
        try await appender.value
        #expect(result.contains("condition met after"), "\(result)")
        #expect(result.contains("matched: listening on :8443 (ready)"), "\(result)")
        // The deadline: nothing matches, so it gives up with the last reason.
        let error = await failure("wait-for-log", ["path": .string(log), "pattern": "never", "seconds": 1])
        #expect(error?.code == .conditionNotMet)
        #expect(error?.message.contains("has no line matching never") == true, "\(String(describing: error))")
        // Outside its roots: refused before anything runs.
        #expect(await failure("wait-for-log", ["path": "/etc/passwd", "pattern": "root"])?.code == .invalidParameter)
    }

    @Test func releaseGatePassesAndRollsBackOnFailure() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let passed = try await run("release-gate", ["service": "checkout", "version": "2.4"])
        #expect(passed.hasPrefix("release-gate: all 5 steps passed"), "\(passed)")
        #expect(passed.contains("validation passed: 3 of 3 checks"))
        #expect(try String(contentsOfFile: scratch + "/gate/checkout.status", encoding: .utf8) == "healthy\n")
        // wait-for-status: the team's status command now says healthy.
        #expect(try await run("wait-for-status", ["service": "checkout", "seconds": 5]).contains("condition met"))

        let steps = Reports()
        var caught: WorkerError?
        do {
            _ = try await run("release-gate", ["service": "search", "version": "1.0", "fail_at": "validation"], progress: steps.reporter)
        } catch let error as WorkerError {
            caught = error
        }
        let error = try #require(caught)
        #expect(error.code == .checklistFailed)
        #expect(
            error.message.contains("FAILED  4/5 staged validation: release.sh exited with status 1: validation check 2 failed"),
            "\(error.message)")
        #expect(error.message.contains("skipped 5/5 promote"))
        let log = try String(contentsOfFile: scratch + "/gate/search.log", encoding: .utf8)
        #expect(
            log == "preflight 1.0\ndeps 1.0\ncanary-up 1.0\nvalidate 1.0\ncanary-down 1.0\ndeps-restore 1.0\n", "rollbacks newest first")
        #expect(try String(contentsOfFile: scratch + "/gate/search.status", encoding: .utf8) == "withdrawn\n")
        // The validation script's ::progress lines arrived within its step.
        #expect(steps.all.contains("routine 0.67 step 4/5: staged validation — validation check 1 of 3"), "\(steps.all)")
        // wait-for-status times out: the canary was withdrawn, never healthy.
        let waitError = await failure("wait-for-status", ["service": "search", "seconds": 1])
        #expect(waitError?.message.contains("has nothing matching healthy") == true, "\(String(describing: waitError))")
    }

    @Test func verifyBackupChecksExistenceSizeAgeAndChecksum() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let backup = write("db.dump", "backup contents\n")
        // printf 'backup contents\n' | sha256sum
        let digest = "d1c1b80a4a8d3ba8a8ca1b5d7a5a0c1e0b1ffbb8bbd0f1b6bb6dd2bc7c0d2a8f"
        let real = try await FileCheck.sha256(backup, environment: ["PATH": "/usr/bin:/bin"])
        #expect(real.count == 64 && real != digest, "the test's wrong digest must differ")
        let ok = try await run("verify-backup", ["path": .string(backup), "min_bytes": 10, "sha256": .string(real)])
        #expect(ok.contains("16 bytes"), "\(ok)")
        #expect(ok.contains("sha256 \(real) (as expected)"), "\(ok)")
        #expect(
            await failure("verify-backup", ["path": .string(backup), "sha256": .string(digest)])?.message.contains("expected \(digest)")
                == true)
        #expect(
            await failure("verify-backup", ["path": .string(backup), "min_bytes": 1000])?.message.contains("expected at least 1000") == true
        )
        #expect(await failure("verify-backup", ["path": .string(scratch + "/missing.dump")])?.message.contains("does not exist") == true)
        let old = Date().addingTimeInterval(-3 * 86400)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: backup)
        #expect(
            await failure("verify-backup", ["path": .string(backup)])?.message.contains("was modified 3 d ago, expected within 24 h")
                == true)
        #expect(await failure("verify-backup", ["path": "/etc/hostname"])?.code == .invalidParameter)
    }

    @Test func serviceEndpointsReportsEachEndpoint() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let healthy = Mutex(true)
        let server = try TinyHTTPServer { path in
            switch path {
            case "/health": (200, "ok")
            case "/ready": healthy.withLock { $0 } ? (200, "ready") : (503, "warming up")
            case "/version": (200, "1.2.3")
            default: (404, "no")
            }
        }
        defer { server.stop() }
        let reports = Reports()
        let result = try await run("service-endpoints", ["port": .number(Double(server.port))], progress: reports.reporter)
        #expect(result.hasPrefix("3 of 3 endpoints healthy"), "\(result)")
        for path in ["/health", "/ready", "/version"] {
            #expect(result.contains("ok      HTTP 200 from GET http://127.0.0.1:\(server.port)\(path)"), "\(result)")
        }
        #expect(reports.all.last == "routine 1.00 checked 3 of 3 endpoints")
        healthy.withLock { $0 = false }
        let error = try #require(await failure("service-endpoints", ["port": .number(Double(server.port))]))
        #expect(error.message.hasPrefix("2 of 3 endpoints healthy"), "\(error.message)")
        #expect(error.message.contains("FAILED  GET http://127.0.0.1:\(server.port)/ready answered HTTP 503"), "\(error.message)")
        #expect(error.message.contains("/version in"), "the endpoint after the failure was still probed: \(error.message)")
    }

    @Test func agentTemplateStreamsProgressAndReturnsItsResultLines() async throws {
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let reports = Reports()
        let text = "summarize last night's audits; $(id) `x` stays literal"
        let result = try await run("agent", ["task": .string(text)], progress: reports.reporter)
        #expect(result == "Draft for: \(text)\n(4 sources read; written by fake-agent.sh, a stand-in for your agent CLI)")
        #expect(
            reports.all.filter { $0.hasPrefix("state") } == [
                "state 0.00 step 1/3: reading the request", "state 0.33 step 2/3: gathering sources",
                "state 0.67 step 3/3: drafting the answer",
            ])
        #expect(reports.all.contains("routine 0.50 read source 2 of 4"))
    }
}

/// Collects every report a recipe makes (before the worker's throttle).
final class Reports: Sendable {
    let log = EventLog()
    var reporter: ProgressReporter {
        ProgressReporter { update in
            let fraction = update.fraction.map { String(format: "%.2f", $0) } ?? "-"
            self.log.append("\(update.isStateChange ? "state" : "routine") \(fraction) \(update.message)")
        }
    }
    var all: [String] { log.all }
}

/// A one-thread HTTP/1.0-style server on 127.0.0.1: answers each request by its path.
final class TinyHTTPServer: Sendable {
    let port: UInt16
    private let listener: Int32

    init(answer: @escaping @Sendable (String) -> (Int, String)) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listener = fd
        Thread.detachNewThread {
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else {
                    close(fd)  // the listener was shut down (stop()); the fd is ours to close
                    return
                }
                var data = [UInt8]()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !data.suffix(4).elementsEqual([13, 10, 13, 10]) {
                    let count = recv(connection, &buffer, buffer.count, 0)
                    if count <= 0 { break }
                    data += buffer[0..<count]
                }
                let requestLine = String(decoding: data.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
                let path = requestLine.count > 1 ? String(requestLine[1]) : "/"
                let (status, body) = answer(path)
                let response = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                _ = response.utf8CString.withUnsafeBufferPointer { send(connection, $0.baseAddress, $0.count - 1, 0) }
                close(connection)
            }
        }
    }

    /// Shuts the listener down; its accept thread closes it. Closing here would free the fd
    /// number while that thread may still be about to call accept on it, and a listener opened
    /// meanwhile by another test would get that number and have its connections stolen.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }
}
