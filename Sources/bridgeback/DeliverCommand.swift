import ArgumentParser
import BridgebackClient
import BridgebackCoordinator
import BridgebackCore
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `bridgeback deliver --dry-run <job>`: what the coordinator would send for a job, where and
/// in how many parts, each part checked by its adapter's dry-run, without sending anything.
struct DeliverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Show what the coordinator would send for a job, where and in how many parts, without sending (--dry-run).",
        discussion: """
            Asks the coordinator's status API (POST /v1/jobs/{id}/dry-run) to plan
            the job's final notice exactly as delivery would (same surface from the
            contract, same split or summary) and to run each part through its
            adapter's dry-run: target known, secret or token present, size within
            the surface's limit, directory writable. Nothing is sent and the ledger
            is not written. A job with no result yet is planned with a marked
            placeholder; --text tries a given result.

            Only --dry-run is supported: the coordinator delivers on its own.
            Exit status: 0 when every part passes (or the job is suppressed), 1 when a part
            would fail or no notice can be planned, 2 on usage errors.

            Environment:
              BRIDGEBACK_COORDINATOR_URL  default for --coordinator (http://127.0.0.1:8090)
            """)

    @Flag(name: .customLong("dry-run"), help: "Plan and check the delivery without sending (required).")
    var dryRun: Bool = false

    @Argument(help: ArgumentHelp("The job id (job_…).", valueName: "job-id"))
    var jobID: String

    @Option(help: ArgumentHelp("Coordinator status API base URL. Env: BRIDGEBACK_COORDINATOR_URL.", valueName: "url"))
    var coordinator: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_COORDINATOR_URL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "http://127.0.0.1:8090"

    @Option(help: ArgumentHelp("Plan this text as the job's result instead of its own (or its placeholder).", valueName: "text"))
    var text: String?

    @Option(name: .customLong("text-file"), help: ArgumentHelp("Like --text, read from a file ('-': standard input).", valueName: "file"))
    var textFile: String?

    @Flag(name: .customLong("show-body"), help: "Print each part's text as people will see it (context lines included).")
    var showBody: Bool = false

    @Flag(help: "Print the coordinator's JSON answer (with each part's exact body) instead of lines for people.")
    var json: Bool = false

    @OptionGroup var auth: ClientAuthOptions

    func validate() throws {
        do { _ = try JobID(parsing: jobID) } catch { throw ValidationError("'\(jobID)' is not a job id: \(error.message)") }
        guard let url = URL(string: coordinator), url.scheme == "http" || url.scheme == "https", url.host != nil else {
            throw ValidationError("--coordinator must be an http(s) URL such as http://127.0.0.1:8090, got '\(coordinator)'")
        }
        if text != nil && textFile != nil { throw ValidationError("give --text or --text-file, not both") }
    }

    func run() async throws {
        guard dryRun else {
            throw deliverFailure(
                "only --dry-run is supported; the coordinator delivers on its own (see where a job stands with 'bridgeback jobs show <job-id>')",
                code: 2)
        }
        let id = try JobID(parsing: jobID).description
        var given = text
        if let textFile {
            do {
                let data =
                    textFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: textFile))
                given = String(decoding: data, as: UTF8.self)
            } catch {
                throw deliverFailure("cannot read --text-file \(textFile): \(error.localizedDescription)", code: 2)
            }
        }
        let body: [UInt8] = given.map { Array(JSONValue.object(["text": .string($0)]).jsonText.utf8) } ?? []
        let path = "/v1/jobs/\(id)/dry-run"
        let data: Data
        switch await APIClient(timeout: 10, token: try auth.token()).post(coordinator, path, body: body) {
        case .ok(let answer): data = answer
        case .status(let code, let message): throw deliverFailure("the coordinator answered \(code): \(message)")
        case .unreachable(let reason):
            throw deliverFailure(
                "the coordinator at \(coordinator) is unreachable (\(reason)); is it running? (--coordinator or BRIDGEBACK_COORDINATOR_URL)"
            )
        }
        let report: DeliveryDryRun
        do { report = try JSONDecoder().decode(DeliveryDryRun.self, from: data) } catch {
            throw deliverFailure("the answer of POST \(path) does not decode: \(error)")
        }
        if json {
            print((try? JSONDecoder().decode(JSONValue.self, from: data))?.jsonText ?? String(decoding: data, as: UTF8.self))
        } else {
            print(DryRunText.render(report, showBody: showBody))
        }
        if report.outcome == "would_fail" || report.outcome == "undeliverable" { throw ExitCode(1) }
    }
}

/// The dry-run report for people.
enum DryRunText {
    /// "Would send to Alice's terminal (inbox alice), parent-mediated, in 3 parts:" then one
    /// line per part: "part 1/3 (498 of 500 characters, body 1,310 bytes) ok".
    static func render(_ report: DeliveryDryRun, showBody: Bool) -> String {
        var out: [String] = []
        guard !report.parts.isEmpty else {
            out.append(report.human)
            out.append(contentsOf: report.notes.map { "  note: " + $0 })
            return out.joined(separator: "\n")
        }
        let target =
            report.surface.map { surface in
                "\(surface.humanName) (\(surface.kind)\(surface.address.map { " \($0)" } ?? ""))"
            } ?? "?"
        let count = report.parts.count == 1 ? "in 1 part" : "in \(report.parts.count) parts"
        out.append("Would send to \(target), \(report.deliveryModeName), \(count):")
        for part in report.parts {
            var line = "  part \(part.part)/\(part.totalParts) (\(part.length) of \(part.maxLength) \(part.unitWords)"
            line += ", body \(part.bodyBytes) bytes\(part.summarized ? ", summarized" : "")) "
            if part.ok {
                line += "ok"
            } else if let failure = part.failure {
                line += "FAILS: \(failure.description)" + (failure.detail.isEmpty ? "" : " (\(failure.detail))")
                if let consequence = part.consequence { line += "; \(consequence)" }
            }
            out.append(line)
            if showBody {
                out.append("    ┌───── part \(part.part)/\(part.totalParts) · \(part.deliveryID)")
                out.append(contentsOf: part.rendered.split(separator: "\n", omittingEmptySubsequences: false).map { "    │ " + $0 })
                out.append("    └─────")
            }
        }
        let failing = report.parts.filter { !$0.ok }.count
        switch (report.parts.count, failing) {
        case (1, 0): out.append("It passes the dry-run; nothing was sent.")
        case (1, _): out.append("It fails the dry-run; nothing was sent.")
        case (let n, 0): out.append("All \(n) parts pass the dry-run; nothing was sent.")
        case (let n, let f): out.append("\(f) of \(n) parts fail the dry-run; nothing was sent.")
        }
        if let surface = report.surface { out.append("  surface: \(surface.id), \(surface.fitting)") }
        if let adapter = report.adapter { out.append("  adapter: \(adapter)") }
        out.append("  text: \(textSource(report.textSource))")
        out.append(contentsOf: report.notes.filter { !$0.hasPrefix("these are the parts stored") }.map { "  note: " + $0 })
        return out.joined(separator: "\n")
    }

    static func textSource(_ source: String) -> String {
        switch source {
        case "ledger": "the parts stored in the ledger (the exact bytes delivery sends)"
        case "decision": "the job's decided notice, planned now"
        case "request": "the text given with --text"
        case "placeholder": "a placeholder: the job has no result yet (try --text)"
        default: source
        }
    }
}

/// Says what went wrong on stderr; the command exits with `code`.
private func deliverFailure(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("bridgeback deliver: \(message)\n".utf8))
    return ExitCode(code)
}
