import BridgebackAudit
import BridgebackPolicy
import Foundation
import Testing

/// Issue #16: over-detach is found and classified, and the rendered Markdown report keeps its
/// list structure with every finding naming its request, class, evidence and next step.
@Suite("Over-detach and the rendered report")
struct OverDetachReportTests {
    static func detached(_ id: String, _ text: String, job: String, forced: Bool = false) -> AuditRequest {
        AuditRequest(
            id: id, origin: "cli:alice", text: text, decision: "detach", forced: forced, triggers: ["verification"],
            reason: forced ? "Forced detach by the caller's force hint, overriding the policy's inline: …" : "Detach: …",
            policyVersion: "2026.12-1", receivedAt: at(100), jobID: job)
    }

    static func delivered(_ job: String, run: Double?, kind: String = "result", text: String? = nil) -> LedgerJob {
        var entry = LedgerJob(jobID: job, state: "finished", endingKind: kind, endingText: text, finalOutcome: "delivered")
        entry.runSeconds = run
        return entry
    }

    static var records: AuditRecords {
        let requests = [
            detached("req_quick", "Verify the backups on all 30 servers", job: "job_quick"),
            detached("req_forced", "What is a canary release?", job: "job_forced", forced: true),
            detached("req_labelled", "Remind me what our on-call rotation looks like next week", job: "job_labelled"),
            detached("req_long", "Verify the restores on all 30 servers", job: "job_long"),
            detached("req_failed", "Rotate the signing keys on every service", job: "job_failed"),
        ]
        var jobs: [String: AdmissionJob] = [:]
        for r in requests {
            jobs[r.jobID!] = AdmissionJob(
                jobID: r.jobID!, requestID: r.id, state: "published", finalSurface: "hooks:local", createdAt: at(100), publishedAt: at(99.9)
            )
        }
        let ledger: [String: LedgerJob] = [
            "job_quick": delivered("job_quick", run: 0.4),
            "job_forced": delivered("job_forced", run: 0.2),
            "job_labelled": delivered("job_labelled", run: 400),
            "job_long": delivered("job_long", run: 900),
            // A multi-line failure (a traceback) must stay inside its list item.
            "job_failed": delivered(
                "job_failed", run: 3, kind: "failure",
                text: "rotation failed\nTraceback (most recent call last):\n  File \"rotate.py\", line 3"),
        ]
        return AuditRecords(requests: requests, jobs: jobs, ledger: ledger)
    }

    static let corpus = [
        LabelledRequest(
            id: "own-7", request: AdmissionRequest(text: "remind me what our on-call rotation looks like next week."), expected: .inline,
            shape: "small_direct")
    ]

    static func audit() throws -> AuditResult {
        Auditor(config: .default, engine: try PolicyEngine.bundledDefault(), corpus: corpus).audit(records, window: window, now: auditNow)
    }

    @Test("a job that finished in seconds, or that the corpus labels inline, is over-detach; a long one is not")
    func overDetachIsFoundAndClassified() throws {
        let result = try Self.audit()
        let byID = Dictionary(uniqueKeysWithValues: result.findings.map { ($0.requestID, $0) })
        #expect(byID["req_long"] == nil)

        let quick = try #require(byID["req_quick"])
        #expect(quick.kind == .overDetach && quick.findingClass == .falsePositiveCalibration)
        #expect(quick.evidence.contains { $0.contains("finished it in 0.4 s, under small_turn_s 30 s") })
        // One concrete step: the cue to lower, by id and family.
        #expect(quick.suggestion.hasPrefix("Lower cue ") && quick.suggestion.contains(" in family "))

        let forced = try #require(byID["req_forced"])
        #expect(forced.kind == .overDetach && forced.findingClass == .helperContractGap)
        #expect(forced.suggestion.contains("force: detach"))

        let labelled = try #require(byID["req_labelled"])
        #expect(labelled.kind == .overDetach && labelled.findingClass == .falsePositiveCalibration)
        #expect(labelled.evidence.contains { $0.contains("corpus row own-7 labels this request inline") })

        #expect(byID["req_failed"]?.kind == .detachFailure)
        #expect(result.count(.overDetach) == 3)
    }

    @Test("the Markdown report: lists intact, every finding names its request, class, evidence and next step")
    func renderedMarkdown() throws {
        var records = Seed.records
        let extra = Self.records
        records.requests += extra.requests
        records.jobs.merge(extra.jobs) { a, _ in a }
        records.ledger?.merge(extra.ledger ?? [:]) { a, _ in a }
        let result = Auditor(config: .default, engine: try PolicyEngine.bundledDefault(), corpus: Self.corpus)
            .audit(records, window: window, now: auditNow)
        let markdown = AuditReport.markdown(result, previous: nil)
        let lines = markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        // Split into finding sections: "### n. request[ / job]" up to the next heading.
        var sections: [[String]] = []
        for line in lines {
            if line.hasPrefix("### ") {
                sections.append([line])
            } else if line.hasPrefix("## ") {
                sections.append([])
            } else if !sections.isEmpty {
                sections[sections.count - 1].append(line)
            }
        }
        sections.removeAll { $0.first?.hasPrefix("### ") != true }
        #expect(sections.count == result.findings.count)
        #expect(result.findings.count >= 15)

        for finding in result.findings {
            let section = try #require(sections.first { $0[0].contains(" \(finding.requestID)") }, "no section names \(finding.requestID)")
            let body = section.dropFirst().drop { $0.isEmpty || $0.hasPrefix("> ") }
            // List structure: after the quoted excerpt, every line is a top-level item, a nested
            // item, an indented continuation, or blank — nothing falls back to column 0.
            for line in body where !line.isEmpty {
                #expect(
                    line.hasPrefix("- ") || line.hasPrefix("  "), "\(finding.requestID): a line left the list: \(line.debugDescription)")
            }
            #expect(
                body.contains { $0 == "- **Class:** `\(finding.findingClass.rawValue)` (\(finding.kind.rawValue))" }, "\(finding.requestID)"
            )
            let evidenceStart = try #require(body.firstIndex(of: "- **Evidence:**"), "\(finding.requestID) has no evidence list")
            let items = body[body.index(after: evidenceStart)...].prefix { $0.hasPrefix("  ") }
            #expect(
                items.filter { $0.hasPrefix("  - ") }.count == finding.evidence.count && !finding.evidence.isEmpty, "\(finding.requestID)")
            let step = try #require(body.first { $0.hasPrefix("- **Suggested response:** ") }, "\(finding.requestID) has no next step")
            #expect(step.count > "- **Suggested response:** ".count + 20, "\(finding.requestID): \(step)")
        }
        // The traceback's lines sit indented under their evidence item.
        #expect(
            markdown.contains(
                "  - ended in failure: rotation failed\n    Traceback (most recent call last):\n    File \"rotate.py\", line 3"))
        #expect(markdown.contains("over-detached job"))
    }
}
