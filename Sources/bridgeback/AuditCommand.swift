import ArgumentParser
import BridgebackAudit
import BridgebackClient
import BridgebackPolicy
import Foundation

/// `bridgeback audit`: find what should have detached, classify every miss, propose (never
/// install) a policy change; `audit ingest` loads inline outcomes exported by a runtime.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit admission: classify inline misses and detach failures, report, propose a policy.",
        discussion: """
            See docs/audit.md. `bridgeback audit` runs the audit (the default subcommand `run`, whose flags follow); \
            `bridgeback audit ingest` loads outcomes.

            Exit status (every audit subcommand): \(auditExitStatus)

            FLAGS OF `bridgeback audit` (= `bridgeback audit run`):
            \(runFlagsHelp)
            """,
        subcommands: [AuditRunCommand.self, AuditIngestCommand.self],
        defaultSubcommand: AuditRunCommand.self
    )
}

/// One exit-status convention for `audit`, `audit run` and `audit ingest` (docs/audit.md).
let auditExitStatus =
    "0 done (findings are not errors); 1 the service refused something (the delivery, or some ingest lines); "
    + "2 a named file or service failed (unreadable store, config, corpus or input, unwritable output, admission unreachable); "
    + "64 bad arguments (ArgumentParser's usage error: a malformed or missing flag, --propose without a corpus)."

/// The run subcommand's options, so `bridgeback audit --help` (the parent) lists the flags it accepts.
private let runFlagsHelp: String = {
    let text = AuditRunCommand.helpMessage(columns: 76)
    guard let range = text.range(of: "OPTIONS:\n") else { return text }
    return String(text[range.upperBound...])
}()

private func defaultStore(_ component: String, _ file: String) -> String {
    let base = ProcessInfo.processInfo.environment["BRIDGEBACK_DATA_DIR"] ?? "bridgeback-data"
    return "\(base)/\(component)/\(file)"
}

private func stderr(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

private let defaultAdmissionURL = ProcessInfo.processInfo.environment["BRIDGEBACK_ADMISSION_URL"] ?? "http://127.0.0.1:8080"

struct AuditRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the audit over a window and print the report (the default subcommand).",
        discussion: """
            Reads admission.sqlite (request log, inline outcomes, jobs) and the coordinator's
            ledger read-only, classifies each finding as trigger_wording_gap,
            helper_contract_gap, audit_reporting_gap or false_positive_calibration, and prints
            a Markdown (or JSON) report grouped by class. Never changes the running policy.

            With --state-dir, the report's totals are kept there and the next report shows the
            trend against them. With --propose, a candidate policy with the cues the
            trigger_wording_gap findings suggest is written to FILE (only cues that change no
            decision on --corpus are kept) and its effect is added to the report. With
            --deliver, the report is submitted to admission as a detached job to the surface
            in the config, with idempotency key audit-<day>: one delivery per day.

            Environment: BRIDGEBACK_DATA_DIR (default parent of the store paths),
            BRIDGEBACK_AUDIT_CONFIG (default --config), BRIDGEBACK_ADMISSION_URL (default
            --admission, http://127.0.0.1:8080).

            Exit status: 0 report written (findings are not errors), 1 delivery refused,
            2 unreadable store, config or corpus, unwritable output, admission unreachable,
            64 bad arguments (a malformed flag, --propose without --corpus).

            Examples:
              bridgeback audit --since 24h
              bridgeback audit --since 7d --format json --config deploy/local/audit.json
              bridgeback audit --since 24h --propose candidate.json \\
                  --corpus ../shared/data/admission-corpus.jsonl
              bridgeback audit --since 24h --state-dir /var/lib/bridgeback/audit --deliver
            """
    )

    @Option(
        help: ArgumentHelp(
            "Admission's database (default: $BRIDGEBACK_DATA_DIR/admission/admission.sqlite, else ./bridgeback-data/admission/admission.sqlite).",
            valueName: "file"))
    var admissionDb: String?

    @Option(
        help: ArgumentHelp(
            "The coordinator's ledger (default: $BRIDGEBACK_DATA_DIR/coordinator/coordinator.sqlite, else ./bridgeback-data/coordinator/coordinator.sqlite).",
            valueName: "file"))
    var ledger: String?

    @Option(
        help: ArgumentHelp(
            "Audit config: thresholds and the delivery surface (default: $BRIDGEBACK_AUDIT_CONFIG, else built-in defaults).",
            valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The installed admission policy (default: the shipped policy).", valueName: "file"))
    var policy: String?

    @Option(help: ArgumentHelp("How far back to look: a number with s, m, h or d (default 24h).", valueName: "span"))
    var since: String = "24h"

    @Option(help: ArgumentHelp("End of the window, ISO 8601 (default: now); for backfills and tests.", valueName: "time"))
    var now: String?

    @Option(help: ArgumentHelp("markdown or json (default markdown).", valueName: "format"))
    var format: String = "markdown"

    @Option(help: ArgumentHelp("Write the report here instead of standard output.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("Write a candidate policy with the proposed cues here (never installed).", valueName: "file"))
    var propose: String?

    @Option(
        help: ArgumentHelp(
            "Labelled corpus: a detached request it labels inline is over-detach; the proposal must not change it (required with --propose; default $BRIDGEBACK_CORPUS).",
            valueName: "file"))
    var corpus: String?

    @Option(
        help: ArgumentHelp("Keep each report's totals (and a copy of the report) here; the next report shows the trend.", valueName: "dir"))
    var stateDir: String?

    @Flag(help: "Submit the report to admission as a detached job to the config's delivery surface (once per day).")
    var deliver = false

    @Option(help: ArgumentHelp("Admission service base URL, for --deliver.", valueName: "url"))
    var admission: String = defaultAdmissionURL

    @OptionGroup var auth: ClientAuthOptions

    func validate() throws {
        if !["markdown", "json"].contains(format) { throw ValidationError("--format must be markdown or json") }
        try Self.validateSpan(since)
        if propose != nil, corpus ?? ProcessInfo.processInfo.environment["BRIDGEBACK_CORPUS"] == nil {
            throw ValidationError(
                "--propose needs --corpus FILE (or $BRIDGEBACK_CORPUS): the labelled corpus the candidate must not change")
        }
        if deliver, URL(string: admission)?.scheme == nil {
            throw ValidationError("--admission '\(admission)' is not a URL such as http://127.0.0.1:8080")
        }
        if let now, Self.date(now) == nil { throw ValidationError("--now '\(now)' is not an ISO 8601 time such as 2026-11-15T06:00:00Z") }
    }

    /// Refuses a span that is not a number with a unit, and one that is not positive: `0h` would audit an empty window.
    static func validateSpan(_ text: String) throws {
        guard let unit = text.last, "smhd".contains(unit), let value = Double(text.dropLast()), value.isFinite else {
            throw ValidationError("--since '\(text)' must be a number with s, m, h or d, e.g. 24h or 7d")
        }
        if value <= 0 {
            throw ValidationError("--since '\(text)' must be a positive span (e.g. 1h): a window of zero or less holds no traffic to audit")
        }
    }

    static func span(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let value = Double(text.dropLast()), value.isFinite, value > 0 else { return nil }
        switch unit {
        case "s": return value
        case "m": return value * 60
        case "h": return value * 3600
        case "d": return value * 86400
        default: return nil
        }
    }

    static func date(_ text: String) -> Date? {
        (try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
    }

    func run() async throws {
        do {
            try await runOrThrow()
        } catch let error as AuditError {
            stderr("bridgeback audit: \(error.message)")
            throw ExitCode(error.code == .deliveryFailed ? 1 : 2)
        }
    }

    func runOrThrow() async throws {
        let environment = ProcessInfo.processInfo.environment
        let end = now.flatMap(Self.date) ?? Date()
        let window = end.addingTimeInterval(-Self.span(since)!)...end
        let configPath = config ?? environment["BRIDGEBACK_AUDIT_CONFIG"]
        let auditConfig =
            try configPath.map { path throws(AuditError) in try AuditConfig.load(from: URL(fileURLWithPath: path)) } ?? .default
        let engine: PolicyEngine
        do {
            engine =
                try policy.map { try PolicyEngine(policy: PolicyDocument.load(from: URL(fileURLWithPath: $0))) }
                ?? PolicyEngine.bundledDefault()
        } catch {
            throw AuditError(.invalidPolicy, "policy rejected: \(error)")
        }
        let records = try AuditLoader.load(
            admissionPath: admissionDb ?? defaultStore("admission", "admission.sqlite"),
            ledgerPath: ledger ?? defaultStore("coordinator", "coordinator.sqlite"), window: window)
        // The labelled corpus, when given, also marks over-detach (a detached request it labels inline).
        var rows: [LabelledRequest] = []
        let corpusPath = corpus ?? environment["BRIDGEBACK_CORPUS"]
        if let corpusPath {
            guard let text = try? String(contentsOfFile: corpusPath, encoding: .utf8) else {
                throw AuditError(.invalidArgument, "cannot read the corpus \(corpusPath)")
            }
            let (labelled, errors) = ClassifyLines.labelled(from: text)
            if let first = errors.first { throw AuditError(.invalidArgument, "\(corpusPath): \(first)") }
            rows = labelled
        }
        let result = Auditor(config: auditConfig, engine: engine, corpus: rows).audit(records, window: window, now: end)

        var proposal: Proposer.Proposal?
        if let propose {
            guard corpusPath != nil else {
                throw AuditError(.invalidArgument, "--propose needs --corpus FILE (the labelled corpus the candidate must not change)")
            }
            let made = Proposer(current: engine, corpus: rows).propose(
                findings: result.findings, window: records.requests, version: Proposer.version(after: engine.policy.version, on: end))
            do {
                try Proposer.encode(made.policy).write(to: URL(fileURLWithPath: propose), options: .atomic)
            } catch let error as AuditError { throw error } catch {
                throw AuditError(.invalidArgument, "cannot write \(propose): \(error.localizedDescription)")
            }
            proposal = made
        }

        let stateURL = stateDir.map { URL(fileURLWithPath: $0) }
        let previous = stateURL.flatMap(AuditTotals.previous(in:))
        let report =
            format == "json"
            ? AuditReport.json(result, previous: previous, proposal: proposal)
            : AuditReport.markdown(result, previous: previous, proposal: proposal, proposalPath: propose)
        if let out {
            do { try Data(report.utf8).write(to: URL(fileURLWithPath: out), options: .atomic) } catch {
                throw AuditError(.invalidArgument, "cannot write \(out): \(error.localizedDescription)")
            }
        } else {
            print(report, terminator: "")
        }
        if let stateURL {
            try AuditTotals(result).save(in: stateURL)
            let copy = stateURL.appendingPathComponent("audit-\(AuditReport.day(end)).\(format == "json" ? "json" : "md")")
            try? Data(report.utf8).write(to: copy, options: .atomic)
        }
        if deliver {
            let markdown =
                format == "json" ? AuditReport.markdown(result, previous: previous, proposal: proposal, proposalPath: propose) : report
            try await deliverReport(markdown, day: AuditReport.day(end), config: auditConfig.delivery)
        }
    }

    /// Submits the report as a detached job; the idempotency key makes a second run the same
    /// day return the first job, so the surface gets the report once.
    func deliverReport(_ report: String, day: String, config: AuditConfig.Delivery) async throws {
        var text = report
        if text.count > config.maxChars {
            text =
                String(text.prefix(config.maxChars))
                + "\n\n… (cut at \(config.maxChars) characters; the full report is in the audit state directory)\n"
        }
        let client = AdmissionClient(base: admission, token: try auth.token())
        let submission: AdmissionClient.ReportSubmission
        do {
            submission = try await client.submitReport(
                text, day: day, origin: config.origin, recipe: config.recipe, textParameter: config.textParameter,
                finalSurface: config.finalSurface, deliveryMode: config.deliveryMode)
        } catch {
            stderr("bridgeback audit: cannot reach the admission service at \(admission): \(error.description)")
            throw ExitCode(2)
        }
        switch submission {
        case .submitted(let job):
            stderr("bridgeback audit: report submitted as \(job), delivering to \(config.finalSurface)")
        case .alreadySubmitted(let job):
            stderr("bridgeback audit: today's report was already submitted as \(job) (audit-\(day)); not delivered again")
        case .refused(let refusal):
            throw AuditError(.deliveryFailed, "admission refused the report (HTTP \(refusal.status)): \(refusal.message)")
        }
    }
}

struct AuditIngestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Post inline outcomes from a JSON-lines file to admission (POST /v1/requests/{id}/outcome).",
        discussion: """
            One JSON object per line: {"request_id": "req_…", "duration_s": 412, "succeeded": true,
            "tool_calls": 9, "wait_s": 300, "sources": ["grafana", "pagerduty"],
            "verification_loops": 0, "follow_ups": 1, "note": "…"}. Only request_id, duration_s and
            succeeded are required. "-" reads standard input.

            Environment: BRIDGEBACK_ADMISSION_URL (default --admission, http://127.0.0.1:8080).
            Exit status: 0 all recorded, 1 some lines refused (each is printed with its line
            number and the service's message), 2 file unreadable or admission unreachable,
            64 bad arguments (ArgumentParser's usage error).
            """
    )

    @Argument(help: ArgumentHelp("JSON-lines file of outcomes, or - for standard input.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("Admission service base URL.", valueName: "url"))
    var admission: String = defaultAdmissionURL

    @OptionGroup var auth: ClientAuthOptions

    func run() async throws {
        let data: Data?
        if file == "-" { data = FileHandle.standardInput.readDataToEndOfFile() } else { data = FileManager.default.contents(atPath: file) }
        guard let data else {
            stderr("bridgeback audit ingest: cannot read \(file)")
            throw ExitCode(2)
        }
        let client = AdmissionClient(base: admission, token: try auth.token())
        var created = 0
        var replaced = 0
        var refused = 0
        for (index, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let outcome: AdmissionClient.OutcomeLine
            do { outcome = try await client.recordOutcome(line: trimmed) } catch {
                stderr("bridgeback audit ingest: cannot reach the admission service at \(admission): \(error.description)")
                throw ExitCode(2)
            }
            switch outcome {
            case .created: created += 1
            case .replaced: replaced += 1
            case .refused(let id, let reason):
                stderr("line \(index + 1)\(id.map { " (\($0))" } ?? ""): \(reason)")
                refused += 1
            }
        }
        print("ingested \(created + replaced) outcomes (\(created) new, \(replaced) replaced), \(refused) refused")
        if refused > 0 { throw ExitCode(1) }
    }
}
