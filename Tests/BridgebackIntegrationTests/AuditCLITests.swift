import Foundation
import Testing

/// `bridgeback audit`'s command line (issue #16): the parent's help lists the run flags, and every
/// bad-argument path exits 64 (ArgumentParser's usage error) with a message that says what to fix.
/// Runs the built binary; needs no broker. About 1 s.
@Suite("Audit command line")
struct AuditCLITests {
    static func run(_ arguments: [String]) throws -> (Int32, String, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("audit-cli-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Fleet.binary)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        var environment = ProcessInfo.processInfo.environment
        environment["BRIDGEBACK_CORPUS"] = nil
        process.environment = environment
        try process.run()
        process.waitUntilExit()
        return (
            process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        )
    }

    @Test("bridgeback audit --help lists the run flags and the exit convention")
    func parentHelpShowsFlags() throws {
        let (status, out, _) = try Self.run(["audit", "--help"])
        #expect(status == 0)
        for flag in ["--since <span>", "--admission-db <file>", "--propose <file>", "--corpus <file>", "--deliver", "--state-dir <dir>"] {
            #expect(out.contains(flag), "missing \(flag) in:\n\(out)")
        }
        #expect(out.contains("64 bad arguments"))
    }

    @Test(
        "bad arguments exit 64 from audit, audit run and audit ingest",
        arguments: [
            (["audit", "--propose", "candidate.json", "--admission-db", "none.sqlite"], "--propose needs --corpus"),
            (["audit", "run", "--propose", "candidate.json"], "--propose needs --corpus"),
            (["audit", "--format", "yaml"], "--format must be markdown or json"),
            (["audit", "run", "--no-such-flag"], "Unknown option"),
            (["audit", "--since", "soon"], "must be a number with s, m, h or d"),
            (["audit", "ingest"], "Missing expected argument"),
            (["audit", "ingest", "x.jsonl", "--no-such-flag"], "Unknown option"),
        ])
    func badArgumentsExit64(arguments: [String], message: String) throws {
        let (status, _, err) = try Self.run(arguments)
        #expect(status == 64, "\(arguments) exited \(status): \(err)")
        #expect(err.contains(message), "\(arguments): \(err)")
    }

    @Test("--since 0h is refused as a window that must be positive, not as a malformed span")
    func zeroSince() throws {
        for span in ["0h", "0d", "-1h"] {
            let (status, _, err) = try Self.run(["audit", "--since=\(span)", "--admission-db", "none.sqlite"])
            #expect(status == 64)
            #expect(err.contains("must be a positive span"), "\(span): \(err)")
            #expect(!err.contains("must be a number"), "\(span): \(err)")
        }
    }

    @Test("an unreadable store is not a bad argument: it exits 2")
    func unreadableStoreExits2() throws {
        let (status, _, err) = try Self.run([
            "audit", "--since", "1h", "--admission-db", "/nonexistent/admission.sqlite", "--ledger", "/nonexistent/l.sqlite",
        ])
        #expect(status == 2, "\(err)")
    }
}
