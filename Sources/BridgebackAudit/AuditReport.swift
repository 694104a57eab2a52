import BridgebackCore
public import Foundation

/// The totals of one report, kept so the next report can show a trend.
public struct AuditTotals: Sendable, Hashable, Codable {
    public var generatedAt: Date
    public var windowStart: Date
    public var windowEnd: Date
    public var byClass: [String: Int]
    public var requests: Int

    public init(_ result: AuditResult) {
        generatedAt = result.generatedAt
        windowStart = result.windowStart
        windowEnd = result.windowEnd
        byClass = Dictionary(uniqueKeysWithValues: result.totals.map { ($0.key.rawValue, $0.value) })
        requests = result.counts.requests
    }

    /// Reads the previous totals from `directory/audit-state.json`; nil if there are none.
    public static func previous(in directory: URL) -> AuditTotals? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("audit-state.json")) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(AuditTotals.self, from: data)
    }

    /// Writes these totals as the state the next run compares with.
    public func save(in directory: URL) throws(AuditError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try encoder.encode(self).write(to: directory.appendingPathComponent("audit-state.json"), options: .atomic)
        } catch {
            throw AuditError(.invalidArgument, "cannot write the audit state in \(directory.path): \(error.localizedDescription)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case generatedAt = "generated_at", windowStart = "window_start", windowEnd = "window_end", byClass = "by_class", requests
    }
}

/// Renders an audit as Markdown for people, or JSON for programs. Deterministic: the same
/// result gives the same bytes.
public enum AuditReport {
    /// `yyyy-MM-dd` in UTC.
    /// Text for a Markdown list item: every further line (a multi-line failure text) is
    /// indented under the item so the list stays intact; blank lines are dropped.
    static func continued(_ text: String, indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "\n" + pad)
    }

    public static func day(_ date: Date) -> String { String(WireDate.format(date).prefix(10)) }

    static func stamp(_ date: Date) -> String {
        let s = WireDate.format(date)
        return String(s.prefix(16)).replacingOccurrences(of: "T", with: " ") + " UTC"
    }

    public static func markdown(
        _ result: AuditResult, previous: AuditTotals?, proposal: Proposer.Proposal? = nil, proposalPath: String? = nil
    ) -> String {
        var out: [String] = []
        out.append("# Bridgeback audit — \(day(result.generatedAt))")
        out.append("")
        out.append("Window \(stamp(result.windowStart)) → \(stamp(result.windowEnd)); policy \(result.policyVersion).")
        let c = result.counts
        out.append(
            "\(c.requests) requests: \(c.inline) inline (\(c.outcomes) with an outcome, \(c.inlineWithoutOutcome) without), \(c.detached) detached, \(c.replays) replays, \(c.refusedContracts) refused a contract."
        )
        out.append(
            "Found \(Auditor.count(result.count(.candidate), "candidate")), \(Auditor.count(result.count(.detachFailure), "detach failure")), "
                + "\(Auditor.count(result.count(.overDetach), "over-detached job")), \(Auditor.count(result.count(.reportingHole), "reporting hole"))."
        )
        out.append("")
        out.append("## Totals")
        out.append("")
        out.append("| class | findings | previous | change |")
        out.append("|---|---:|---:|---:|")
        let totals = result.totals
        for cls in FindingClass.allCases {
            let now = totals[cls] ?? 0
            if let previous {
                let before = previous.byClass[cls.rawValue] ?? 0
                let delta = now - before
                out.append("| `\(cls.rawValue)` | \(now) | \(before) | \(delta > 0 ? "+\(delta)" : delta == 0 ? "0" : "\(delta)") |")
            } else {
                out.append("| `\(cls.rawValue)` | \(now) | — | — |")
            }
        }
        let total = totals.values.reduce(0, +)
        if let previous {
            let before = previous.byClass.values.reduce(0, +)
            out.append("| **all** | \(total) | \(before) | \(total - before > 0 ? "+" : "")\(total - before) |")
            out.append("")
            out.append(
                "Previous report: \(stamp(previous.generatedAt)) (window from \(stamp(previous.windowStart)), \(previous.requests) requests)."
            )
        } else {
            out.append("| **all** | \(total) | — | — |")
            out.append("")
            out.append("No previous report to compare with.")
        }
        if !result.notes.isEmpty {
            out.append("")
            for note in result.notes { out.append("> Note: \(note)") }
        }
        for cls in FindingClass.allCases {
            let findings = result.findings.filter { $0.findingClass == cls }
            guard !findings.isEmpty else { continue }
            out.append("")
            out.append("## `\(cls.rawValue)` (\(findings.count))")
            out.append("")
            out.append("\(cls.meaning) **Response:** \(cls.response)")
            for (n, f) in findings.enumerated() {
                out.append("")
                out.append("### \(n + 1). \(f.requestID)\(f.jobID.map { " / \($0)" } ?? "")")
                out.append("")
                out.append("> \(f.excerpt)")
                out.append("")
                out.append("- **From:** \(f.origin), \(stamp(f.receivedAt)); admission said \(f.decision) under policy \(f.policyVersion)")
                out.append("- **What happened:** " + Self.continued(f.whatHappened, indent: 2))
                out.append("- **Class:** `\(cls.rawValue)` (\(f.kind.rawValue))")
                out.append("- **Evidence:**")
                for line in f.evidence { out.append("  - " + Self.continued(line, indent: 4)) }
                out.append("- **Suggested response:** " + Self.continued(f.suggestion, indent: 2))
            }
        }
        if let proposal {
            out.append("")
            out.append(contentsOf: proposalMarkdown(proposal, path: proposalPath))
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func proposalMarkdown(_ p: Proposer.Proposal, path: String?) -> [String] {
        var out = ["## Proposal", ""]
        out.append(
            "Candidate policy \(p.policy.version)\(path.map { " written to `\($0)`" } ?? ""). Nothing changes at runtime until an operator installs it."
        )
        out.append("")
        out.append(
            "Labelled corpus (\(p.corpusRows) rows): accuracy \(pct(p.corpusAccuracyBefore)) → \(pct(p.corpusAccuracyAfter)); decisions changed: \(p.corpusChanges.count)."
        )
        for change in p.corpusChanges { out.append("- corpus \(change.id): \(change.from) → \(change.to): \(change.excerpt)") }
        out.append("")
        if p.accepted.isEmpty {
            out.append("No cue accepted.")
        } else {
            out.append("Cues added:")
            for a in p.accepted {
                out.append(
                    "- `\(a.cue.id)` in `\(a.cue.family)` (weight \(Auditor.number(a.cue.weight))): `\(a.cue.pattern)` — fixes \(a.requestIDs.joined(separator: ", "))"
                )
            }
        }
        if !p.rejected.isEmpty {
            out.append("")
            out.append("Cues rejected:")
            for r in p.rejected { out.append("- `\(r.cue.id)` (for \(r.requestID)): \(r.reason)") }
        }
        if !p.unresolved.isEmpty {
            out.append("")
            out.append("No cue could be proposed for: \(p.unresolved.joined(separator: ", ")) (write one by hand).")
        }
        out.append("")
        out.append(
            "On the audited window: \(p.windowNewlyDetach.count) would newly detach, \(p.windowNewlyInline.count) would newly stay inline.")
        for change in p.windowNewlyDetach { out.append("- newly detach: \(change.id): \(change.excerpt)") }
        for change in p.windowNewlyInline { out.append("- newly inline: \(change.id): \(change.excerpt)") }
        return out
    }

    static func pct(_ x: Double) -> String { String((x * 1000).rounded() / 1000) }

    /// The same content as JSON (sorted keys).
    public static func json(_ result: AuditResult, previous: AuditTotals?, proposal: Proposer.Proposal? = nil) -> String {
        struct Body: Encodable {
            var generated_at: String
            var window: [String: String]
            var policy_version: String
            var counts: AuditResult.Counts
            var totals: [String: Int]
            var previous: [String: Int]?
            var trend: [String: Int]?
            var notes: [String]
            var classes: [String: [String: String]]
            var findings: [Finding]
            var proposal: ProposalBody?
        }
        struct ProposalBody: Encodable {
            var version: String
            var accepted: [Proposer.Accepted]
            var rejected: [Proposer.Rejected]
            var unresolved: [String]
            var corpus_rows: Int
            var corpus_accuracy_before: Double
            var corpus_accuracy_after: Double
            var corpus_changes: [Proposer.Change]
            var window_newly_detach: [Proposer.Change]
            var window_newly_inline: [Proposer.Change]
        }
        let totals = Dictionary(uniqueKeysWithValues: result.totals.map { ($0.key.rawValue, $0.value) })
        let body = Body(
            generated_at: WireDate.format(result.generatedAt),
            window: ["start": WireDate.format(result.windowStart), "end": WireDate.format(result.windowEnd)],
            policy_version: result.policyVersion, counts: result.counts, totals: totals, previous: previous?.byClass,
            trend: previous.map { prev in
                totals.mapValues { $0 }.reduce(into: [:]) { acc, kv in acc[kv.key] = kv.value - (prev.byClass[kv.key] ?? 0) }
            },
            notes: result.notes,
            classes: Dictionary(
                uniqueKeysWithValues: FindingClass.allCases.map { ($0.rawValue, ["meaning": $0.meaning, "response": $0.response]) }),
            findings: result.findings,
            proposal: proposal.map {
                ProposalBody(
                    version: $0.policy.version, accepted: $0.accepted, rejected: $0.rejected, unresolved: $0.unresolved,
                    corpus_rows: $0.corpusRows,
                    corpus_accuracy_before: $0.corpusAccuracyBefore, corpus_accuracy_after: $0.corpusAccuracyAfter,
                    corpus_changes: $0.corpusChanges,
                    window_newly_detach: $0.windowNewlyDetach, window_newly_inline: $0.windowNewlyInline)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(WireDate.format(date))
        }
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
