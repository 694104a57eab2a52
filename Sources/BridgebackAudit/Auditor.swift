public import BridgebackPolicy
public import Foundation

/// What one audit run found, sorted so the same records always give the same report.
public struct AuditResult: Sendable, Hashable, Codable {
    public var generatedAt: Date
    public var windowStart: Date
    public var windowEnd: Date
    public var policyVersion: String
    public var findings: [Finding]
    public var counts: Counts
    public var notes: [String]

    /// What was looked at.
    public struct Counts: Sendable, Hashable, Codable {
        public var requests = 0
        public var inline = 0
        public var detached = 0
        public var replays = 0
        public var outcomes = 0
        public var inlineWithoutOutcome = 0
        /// Requests that would have detached but were refused a contract (no job exists).
        public var refusedContracts = 0
        public init() {}
    }

    /// Findings per class, every class present (0 when none).
    public var totals: [FindingClass: Int] {
        var totals = Dictionary(uniqueKeysWithValues: FindingClass.allCases.map { ($0, 0) })
        for finding in findings { totals[finding.findingClass, default: 0] += 1 }
        return totals
    }

    /// Findings per kind (candidates, detach failures, reporting holes).
    public func count(_ kind: FindingKind) -> Int { findings.filter { $0.kind == kind }.count }
}

/// The audit itself: records + thresholds + the current policy → classified findings.
///
/// Pure: no I/O, no clock (the caller passes `now`), so tests seed records and assert the
/// exact findings.
public struct Auditor: Sendable {
    public let config: AuditConfig
    public let engine: PolicyEngine
    /// Labelled rows by normalized text: a detached request the corpus labels inline is over-detach.
    let labelled: [String: LabelledRequest]

    public init(config: AuditConfig, engine: PolicyEngine, corpus: [LabelledRequest] = []) {
        self.config = config
        self.engine = engine
        var byText: [String: LabelledRequest] = [:]
        for row in corpus { byText[Self.key(row.request.text)] = byText[Self.key(row.request.text)] ?? row }
        self.labelled = byText
    }

    /// Lowercased words, so a corpus row and a logged request match despite case, spacing
    /// and punctuation.
    static func key(_ text: String) -> String {
        text.lowercased().split { !$0.isLetter && !$0.isNumber && $0 != "'" }.joined(separator: " ")
    }

    public func audit(_ records: AuditRecords, window: ClosedRange<Date>, now: Date) -> AuditResult {
        var counts = AuditResult.Counts()
        var findings: [Finding] = []
        for request in records.requests where window.contains(request.receivedAt) {
            counts.requests += 1
            if request.replay {
                counts.replays += 1
                continue
            }
            if request.decision == "detach" {
                counts.detached += 1
                if let finding = judgeDetached(request, records, now: now) { findings.append(finding) }
            } else {
                counts.inline += 1
                if let outcome = records.outcomes[request.id] {
                    counts.outcomes += 1
                    if let finding = judgeInline(request, outcome) { findings.append(finding) }
                } else {
                    counts.inlineWithoutOutcome += 1
                    if !request.triggers.isEmpty {
                        findings.append(
                            Finding(
                                kind: .reportingHole, findingClass: .auditReportingGap, request: request,
                                whatHappened:
                                    "kept inline as a near miss (triggers \(request.triggers.joined(separator: ", ")) fired, inline cues won); no outcome was reported",
                                evidence: [
                                    "trigger classes fired but did not detach: \(request.triggers.joined(separator: ", "))",
                                    "no outcome for \(request.id): the audit cannot tell whether the turn was long",
                                ],
                                suggestion:
                                    "Have the runtime POST /v1/requests/\(request.id)/outcome (or `bridgeback audit ingest`) for inline turns, at least for near misses."
                            ))
                    }
                }
            }
        }
        for refusal in records.refusals where window.contains(refusal.at) {
            counts.refusedContracts += 1
            findings.append(judgeRefusal(refusal))
        }
        findings.sort {
            ($0.findingClass, $0.receivedAt, $0.requestID) < ($1.findingClass, $1.receivedAt, $1.requestID)
        }
        return AuditResult(
            generatedAt: now, windowStart: window.lowerBound, windowEnd: window.upperBound, policyVersion: engine.policy.version,
            findings: findings, counts: counts, notes: records.notes)
    }

    // MARK: Inline turns

    enum Signal: String, CaseIterable {
        case long, waitHeavy = "wait_heavy", manyTools = "many_tools", manySources = "many_sources"
        case verificationLoops = "verification_loops", followUps = "follow_ups"
    }

    func signals(_ o: InlineOutcome) -> [(Signal, String)] {
        let t = config.thresholds
        var out: [(Signal, String)] = []
        if o.durationSeconds >= t.longTurnSeconds {
            out.append((.long, "took \(Self.seconds(o.durationSeconds)) (long_turn_s \(Self.seconds(t.longTurnSeconds)))"))
        }
        if let wait = o.waitSeconds,
            wait >= t.waitSeconds || (o.durationSeconds > 0 && wait / o.durationSeconds >= t.waitShare && wait >= t.waitSeconds / 4)
        {
            let share = o.durationSeconds > 0 ? Int((wait / o.durationSeconds * 100).rounded()) : 0
            out.append(
                (
                    .waitHeavy,
                    "waited \(Self.seconds(wait)), \(share)% of the turn (wait_s \(Self.seconds(t.waitSeconds)), wait_share \(t.waitShare))"
                ))
        }
        if let tools = o.toolCalls, tools >= t.manyToolCalls {
            out.append((.manyTools, "\(tools) tool calls (many_tool_calls \(t.manyToolCalls))"))
        }
        let sources = o.sources ?? (o.sourceNames.isEmpty ? nil : o.sourceNames.count)
        if let sources, sources >= t.manySources {
            let names = o.sourceNames.isEmpty ? "" : ": " + o.sourceNames.joined(separator: ", ")
            out.append((.manySources, "\(sources) sources touched\(names) (many_sources \(t.manySources))"))
        }
        if let loops = o.verificationLoops, loops >= t.verificationLoops {
            out.append((.verificationLoops, "\(loops) verify-and-retry loops (verification_loops \(t.verificationLoops))"))
        }
        if let follow = o.followUps, follow > 0 {
            out.append((.followUps, "\(follow) follow-up(s) asking whether it was done"))
        }
        return out
    }

    func describe(_ o: InlineOutcome) -> String {
        var parts = ["inline turn of \(Self.seconds(o.durationSeconds))"]
        if let w = o.waitSeconds { parts.append("waited \(Self.seconds(w))") }
        if let t = o.toolCalls { parts.append(Self.count(t, "tool call")) }
        if let s = o.sources ?? (o.sourceNames.isEmpty ? nil : o.sourceNames.count) { parts.append(Self.count(s, "source")) }
        if let v = o.verificationLoops { parts.append(Self.count(v, "verification loop")) }
        if let f = o.followUps, f > 0 { parts.append(Self.count(f, "follow-up")) }
        parts.append(o.succeeded ? "succeeded" : "did not succeed")
        var out = parts.joined(separator: ", ")
        // The runtime's own words ("turn timed out at 40 min", "user gave up") say most.
        if let note = o.note?.trimmingCharacters(in: .whitespacesAndNewlines), !note.isEmpty {
            out += " (note: \"\(note.split(whereSeparator: \.isNewline).joined(separator: " "))\")"
        }
        return out
    }

    func judgeInline(_ request: AuditRequest, _ outcome: InlineOutcome) -> Finding? {
        let found = signals(outcome)
        guard !found.isEmpty else { return nil }
        let kinds = Set(found.map(\.0))
        let evidence = found.map(\.1)
        let what = describe(outcome)
        let t = config.thresholds

        if request.forced {
            return Finding(
                kind: .candidate, findingClass: .helperContractGap, request: request, whatHappened: what,
                evidence: evidence + [Self.forcedEvidence(request)],
                suggestion:
                    "Review when the runtime sends force: inline; long work it forces inline never gets a contract, progress or delivery.")
        }
        if outcome.succeeded, outcome.durationSeconds < t.smallTurnSeconds, kinds.isSubset(of: [.manyTools, .manySources]) {
            var tune: [String] = []
            if kinds.contains(.manyTools), let n = outcome.toolCalls { tune.append("many_tool_calls above \(n)") }
            if kinds.contains(.manySources) { tune.append("many_sources above \(outcome.sources ?? outcome.sourceNames.count)") }
            return Finding(
                kind: .candidate, findingClass: .falsePositiveCalibration, request: request, whatHappened: what,
                evidence: evidence + [
                    "but it succeeded in \(Self.seconds(outcome.durationSeconds)), under small_turn_s \(Self.seconds(t.smallTurnSeconds)): safely small"
                ],
                suggestion:
                    "Tune the audit, not the policy: raise \(tune.joined(separator: " and ")) in audit.json, or count those signals only on turns longer than small_turn_s."
            )
        }
        let shapeKnown =
            outcome.toolCalls != nil || outcome.waitSeconds != nil || outcome.sources != nil || !outcome.sourceNames.isEmpty
            || outcome.verificationLoops != nil
        if kinds == [.long], !shapeKnown {
            return Finding(
                kind: .reportingHole, findingClass: .auditReportingGap, request: request, whatHappened: what,
                evidence: evidence + [
                    "the outcome has no wait_s, tool_calls, sources or verification_loops: the audit cannot tell what kind of work the time went to"
                ],
                suggestion: "Have the runtime report wait_s, tool_calls and sources with each outcome.")
        }

        // The shape the outcome shows decides the trigger class the request should have had.
        var trigger: TriggerClass?
        var because = ""
        if kinds.contains(.waitHeavy) || kinds.contains(.followUps) {
            trigger = .wait
            because = kinds.contains(.waitHeavy) ? "the turn was wait-heavy" : "the person had to ask whether it was done"
        } else if kinds.contains(.verificationLoops) {
            trigger = .verification
            because = "the turn looped verifying and retrying"
        } else if kinds.contains(.manySources) {
            trigger = .multiSource
            because = "the turn read and combined several sources"
        } else if let near = request.triggers.map(TriggerClass.init(rawValue:)).filter(\.isKnown).sorted().first {
            trigger = near
            because = "its cues already pointed at \(near) (near miss)"
        } else {
            because = "it was long work with no more specific shape"
        }
        var lines = evidence
        let admission = AdmissionRequest(text: request.text, hints: Self.hints(request.hintsJSON))
        let decided = engine.decide(admission)
        if let inlineHint = Self.inlineHint(decided) {
            // No cue won: the runtime's own estimate kept it inline, so the wording is not the fix.
            return Finding(
                kind: .candidate, findingClass: .helperContractGap, request: request, whatHappened: what,
                evidence: lines + ["the runtime's hint \(inlineHint) kept it inline (admission said: \(request.reason))"],
                suggestion:
                    "Fix the runtime's \(inlineHint.split(separator: "=").first ?? "hint") estimate for requests like this; no cue needs to change."
            )
        }
        if let asked = Self.plainQuestion(decided, outcome) {
            // A question answered slowly is still a question: a cue would detach every question like it.
            return Finding(
                kind: .candidate, findingClass: .helperContractGap, request: request, whatHappened: what,
                evidence: lines + ["it is a question (\(asked)) and the turn used no tools: the time went to answering, not to work"],
                suggestion:
                    "Do not add a cue (it would detach questions); if such answers take minutes, have the runtime stream them or send expected_wait_s."
            )
        }
        lines.append("the outcome indicates trigger class \(trigger?.rawValue ?? "(none: generic work)"): \(because)")
        lines.append("admission said inline: \(request.reason)")
        let cues = CueSuggester.candidates(for: admission, trigger: trigger, engine: engine)
        let suggestion: String
        if let catching = cues.first(where: \.catchesRequest) {
            lines.append(
                "cue that would have caught it: family \(catching.family), id \(catching.id), pattern \(catching.pattern), weight \(Self.number(catching.weight))"
            )
            suggestion =
                "Propose cue \(catching.id) (\(catching.pattern)) in family \(catching.family); check it with --propose against the corpus."
        } else if let first = cues.first {
            lines.append(
                "no single cue can detach it: \(first.id) (\(first.pattern)) in family \(first.family) would add at most \(Self.number(first.weight)); the score was \(Self.number(engine.decide(admission).score)) vs threshold \(Self.number(engine.policy.decision.threshold))"
            )
            suggestion = "Widen family \(cues[0].family) or weaken the inline cue that won, by hand; add the request as a labelled row."
        } else {
            lines.append("no imperative verb at the start of the request to derive a cue from")
            suggestion =
                "Write a cue for this shape by hand (family for \(trigger?.rawValue ?? "generic work")); add the request as a labelled row."
        }
        return Finding(
            kind: .candidate, findingClass: .triggerWordingGap, request: request, whatHappened: what, evidence: lines,
            suggestion: suggestion, indicatedTrigger: trigger?.rawValue, candidateCues: cues)
    }

    // MARK: Detached jobs

    func judgeDetached(_ request: AuditRequest, _ records: AuditRecords, now: Date) -> Finding? {
        guard let jobID = request.jobID else {
            return Finding(
                kind: .reportingHole, findingClass: .auditReportingGap, request: request,
                whatHappened: "logged as detached with no job id", evidence: ["request_log.job_id is empty for a detach"],
                suggestion: "Check the admission version that wrote this row; every detach must name its job.")
        }
        guard let job = records.jobs[jobID] else {
            return Finding(
                kind: .reportingHole, findingClass: .auditReportingGap, request: request,
                whatHappened: "detached as \(jobID), but admission has no job row",
                evidence: ["no row in admission's jobs table for \(jobID)"],
                suggestion: "Check that the audit reads the same admission database that admitted the job (--admission-db).")
        }
        let grace = config.thresholds.launchGraceSeconds
        if job.publishedAt == nil && job.state != "published" {
            let age = now.timeIntervalSince(job.createdAt)
            guard age >= grace else { return nil }
            var evidence = [
                "job \(jobID) is still '\(job.state)' \(Self.seconds(age)) after admission (launch_grace_s \(Self.seconds(grace))): the broker never confirmed its contract and job"
            ]
            if let error = job.lastOutboxError { evidence.append("last outbox error: \(error)") }
            return Finding(
                kind: .detachFailure, findingClass: .helperContractGap, request: request,
                whatHappened: "detached but failed to launch", evidence: evidence,
                suggestion:
                    "Fix what stops the outbox relay (broker credentials, topology, permissions); the job waits in the outbox and goes out once it can."
            )
        }
        guard let ledger = records.ledger else { return nil }
        guard let entry = ledger[jobID] else {
            return Finding(
                kind: .reportingHole, findingClass: .auditReportingGap, request: request,
                whatHappened: "detached and published as \(jobID); the ledger has no row for it",
                evidence: ["admission published \(jobID), but the coordinator's ledger read by the audit never heard of it"],
                suggestion: "Check that --ledger is the coordinator that consumes this admission's contracts.")
        }
        var problems: [String] = []
        switch entry.endingKind {
        case "lost"?: problems.append("ended lost: no completion before the deadline plus grace")
        case "failure"?: problems.append("ended in failure: \(entry.endingText ?? "no reason recorded")")
        default: break
        }
        if entry.state == "awaiting_contract" || entry.state == "completion_parked" {
            problems.append("the coordinator holds a completion but never got the job's contract (state \(entry.state))")
        }
        if let outcome = entry.finalOutcome, ["failed", "uncertain", "undeliverable"].contains(outcome) {
            problems.append("final delivery \(outcome)" + (entry.finalDetail.map { ": \($0)" } ?? ""))
        }
        if !entry.partFailures.isEmpty {
            // The coordinator's sentences ("… answered 410 Gone …") when the ledger has them; bare kinds otherwise.
            let failures = entry.partFailureDetails.isEmpty ? entry.partFailures : entry.partFailureDetails
            problems.append("delivery part failures: \(failures.joined(separator: "; "))")
        }
        if entry.fallbackParts > 0 {
            problems.append("\(entry.fallbackParts) part(s) went to the fallback surface instead of \(job.finalSurface)")
        }
        if entry.duplicates > 0 { problems.append("\(entry.duplicates) duplicate completion(s) suppressed: the job ran more than once") }
        guard !problems.isEmpty else { return judgeOverDetach(request, job: job, entry) }
        let what =
            "detached as \(jobID) to \(job.finalSurface); ledger state \(entry.state)" + (entry.finalOutcome.map { ", final \($0)" } ?? "")
        return Finding(
            kind: .detachFailure, findingClass: .helperContractGap, request: request, whatHappened: what, evidence: problems,
            suggestion: Self.contractSuggestion(entry))
    }

    /// A detached job that ended cleanly, judged for over-detach: the worker finished it in
    /// under `small_turn_s`, or the labelled corpus says the request stays inline.
    func judgeOverDetach(_ request: AuditRequest, job: AdmissionJob, _ entry: LedgerJob) -> Finding? {
        let small = config.thresholds.smallTurnSeconds
        var evidence: [String] = []
        if entry.endingKind == "result", let run = entry.runSeconds, run < small {
            evidence.append(
                "the worker finished it in \(Self.seconds(run)), under small_turn_s \(Self.seconds(small)): it could have been answered inline"
            )
        }
        if let row = labelled[Self.key(request.text)], row.expected == .inline {
            evidence.append("the labelled corpus row \(row.id) labels this request inline" + (row.shape.map { " (shape \($0))" } ?? ""))
        }
        guard !evidence.isEmpty else { return nil }
        let what =
            "detached as \(job.jobID) to \(job.finalSurface) and delivered"
            + (entry.runSeconds.map { "; the job ran \(Self.seconds($0))" } ?? "")
        if request.forced {
            return Finding(
                kind: .overDetach, findingClass: .helperContractGap, request: request, whatHappened: what,
                evidence: evidence + [Self.forcedEvidence(request)],
                suggestion: "Review when the runtime sends force: detach; this job was small enough to answer inline.")
        }
        let admission = AdmissionRequest(text: request.text, hints: Self.hints(request.hintsJSON))
        let decided = engine.decide(admission)
        evidence.append("admission said detach: \(request.reason)")
        if decided.policyDecision == .inline {
            evidence.append("policy \(engine.policy.version) now decides it inline: \(decided.reason)")
            return Finding(
                kind: .overDetach, findingClass: .falsePositiveCalibration, request: request, whatHappened: what, evidence: evidence,
                suggestion:
                    "No change needed: policy \(engine.policy.version) already keeps it inline; add it as an inline labelled row so it stays so."
            )
        }
        if let hint = decided.cues.first(where: { $0.family == "hints" && $0.pull == .detach }) {
            return Finding(
                kind: .overDetach, findingClass: .helperContractGap, request: request, whatHappened: what,
                evidence: evidence + ["the runtime's hint \(hint.text) detached it, not its wording"],
                suggestion: "Fix the runtime's \(hint.cue) estimate for requests like this; no cue needs to change.")
        }
        let strongest = decided.cues.filter { $0.pull == .detach }.max { $0.weight < $1.weight }
        if let strongest {
            evidence.append(
                "strongest detach cue: \(strongest.cue) in \(strongest.family) (weight \(Self.number(strongest.weight))) on \"\(strongest.text)\"; score \(Self.number(decided.score)) vs threshold \(Self.number(engine.policy.decision.threshold))"
            )
        }
        let step =
            strongest.map {
                "Lower cue \($0.cue) in family \($0.family) (weight \(Self.number($0.weight))) or add an inline cue for this shape"
            } ?? "Add an inline cue for this shape"
        return Finding(
            kind: .overDetach, findingClass: .falsePositiveCalibration, request: request, whatHappened: what, evidence: evidence,
            suggestion: step + "; add the request as an inline labelled row and check the candidate with `bridgeback classify --eval`.")
    }

    /// A request that would have detached but was refused its contract: a detach failure
    /// before any job existed.
    func judgeRefusal(_ refusal: ContractRefusal) -> Finding {
        var evidence = [
            "admission refused the contract with \(refusal.code)" + (refusal.field.map { " on \($0)" } ?? "") + ": \(refusal.message)"
        ]
        evidence.append(
            "from \(refusal.origin), decided \(refusal.decision)" + (refusal.forced ? " (forced)" : "")
                + (refusal.triggers.isEmpty ? "" : " by \(refusal.triggers.joined(separator: ", "))")
                + (refusal.policyVersion.isEmpty ? "" : ", policy \(refusal.policyVersion)"))
        evidence.append("request: \(Finding.excerpt(refusal.excerpt, limit: 280))")
        evidence.append("no job was created: the work was not done through Bridgeback")
        return Finding(
            kind: .detachFailure, findingClass: .helperContractGap, refusal: refusal,
            whatHappened: "would have detached, but was refused a contract (\(refusal.code))", evidence: evidence,
            suggestion: Self.refusalSuggestion(refusal))
    }

    static func refusalSuggestion(_ refusal: ContractRefusal) -> String {
        switch refusal.code {
        case "unknown_surface": "Add the surface to the registry or fix the id the runtime sends in \(refusal.field ?? "the contract")."
        case "missing_final_surface":
            "Give \(refusal.origin) a default final surface in the registry, or have the runtime name contract.final_surface."
        case "direct_not_allowed":
            "Have the runtime use delivery_mode parent for that surface, or allow direct delivery to it in the registry."
        case "unknown_recipe", "invalid_recipe_params":
            "Fix the recipe the runtime names (or its parameters), add it to the worker catalog, or configure a default recipe."
        default: "Fix the contract field the evidence names (\(refusal.field ?? "see the message")) in the runtime or the admission limits."
        }
    }

    static func contractSuggestion(_ entry: LedgerJob) -> String {
        if entry.endingKind == "lost" {
            return "Check the recipe's deadline and the worker pool: the job's deadline was too short or no worker finished it."
        }
        if entry.endingKind == "failure", let text = entry.endingText?.lowercased(), text.hasPrefix("deadline exceeded") {
            if text.contains("before it started") {
                return "Add workers to the job's pool or raise the job's deadline: it waited in the queue past its deadline and never ran."
            }
            return
                "Raise the job's deadline (the contract's deadline or the recipe's default) or split the work into smaller jobs: the worker stopped it at its deadline."
        }
        if entry.endingKind == "failure" { return "Fix the recipe or its parameters: the worker reported a failure." }
        if entry.fallbackParts > 0 || entry.finalOutcome != nil && entry.finalOutcome != "delivered" {
            return
                "Fix the final surface in the registry (address, token, limits) or the contract's final_surface: delivery did not land there."
        }
        if entry.duplicates > 0 { return "Make the recipe idempotent or its deadline longer than its runs: workers ran it more than once." }
        return "Check the contract and recipe named in the evidence."
    }

    // MARK: Formatting

    static func hints(_ json: String?) -> AdmissionHints? {
        guard let json, var hints = try? JSONDecoder().decode(AdmissionHints.self, from: Data(json.utf8)) else { return nil }
        hints.force = nil
        return hints
    }

    /// "150 s", "10 min 40 s", "2 h 5 min": whole units a person reads at a glance.
    static func seconds(_ s: Double) -> String {
        if s < 120 { return "\(number((s * 10).rounded() / 10)) s" }
        let total = Int(s.rounded())
        if total < 3600 {
            let (m, r) = total.quotientAndRemainder(dividingBy: 60)
            return r == 0 ? "\(m) min" : "\(m) min \(r) s"
        }
        let (h, r) = total.quotientAndRemainder(dividingBy: 3600)
        let m = r / 60
        return m == 0 ? "\(h) h" : "\(h) h \(m) min"
    }

    /// The inline-pulling hint (`expected_wait_s=5`) when a hint, not a cue, kept the request inline.
    static func inlineHint(_ d: AdmissionDecision) -> String? {
        guard d.policyDecision == .inline,
            let hint = d.cues.first(where: { $0.family == "hints" && $0.pull == .inline })
        else { return nil }
        let wordingOnly = d.cues.filter { $0.family != "hints" }.reduce(0.0) { $0 + ($1.pull == .detach ? $1.weight : -$1.weight) }
        return wordingOnly >= 0 ? hint.text : nil
    }

    /// The question cue's text when the request reads as a question and the turn used no tools,
    /// waited for nothing and read no sources.
    static func plainQuestion(_ d: AdmissionDecision, _ o: InlineOutcome) -> String? {
        guard (o.toolCalls ?? 0) == 0, (o.waitSeconds ?? 0) < 1, (o.sources ?? o.sourceNames.count) == 0,
            !d.cues.contains(where: { $0.pull == .detach && $0.family != "hints" && $0.weight >= 2 }),
            let q = d.cues.first(where: { ($0.family == "question" || $0.family == "about_it") && $0.pull == .inline })
        else { return nil }
        return "\(q.family) \"\(q.text)\""
    }

    /// "1 source", "3 sources".
    static func count(_ n: Int, _ singular: String) -> String {
        n == 1 ? "1 \(singular)" : "\(n) \(singular)s"
    }

    /// What the request log says about a forced decision: whether the policy agreed.
    static func forcedEvidence(_ request: AuditRequest) -> String {
        let head = "the runtime forced this request \(request.decision) (force: \(request.decision))"
        if request.reason.contains("agreeing with") {
            return head + "; the policy agreed (it would also have decided \(request.decision))"
        }
        if request.reason.contains("overriding") {
            return head + "; the policy would have decided otherwise: \(request.reason)"
        }
        return head + (request.reason.isEmpty ? "; the log has no policy reason" : "; logged reason: \(request.reason)")
    }

    static func number(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String((x * 100).rounded() / 100)
    }
}
