import BridgebackAudit
import BridgebackPolicy
import Foundation
import Testing

/// A proposal from the trigger_wording_gap findings fixes those misses and changes no corpus decision.
@Suite struct ProposerTests {
    let engine = try! PolicyEngine.bundledDefault()

    @Test func theProposalFixesTheWordingGapsWithoutChangingAnyCorpusDecision() throws {
        let corpus = try loadCorpus()
        #expect(corpus.count >= 60)
        let records = Seed.records
        let inWindow = records.requests.filter { window.contains($0.receivedAt) }
        let result = Auditor(config: .default, engine: engine).audit(records, window: window, now: auditNow)
        let version = Proposer.version(after: engine.policy.version, on: auditNow)
        let proposal = Proposer(current: engine, corpus: corpus).propose(findings: result.findings, window: inWindow, version: version)

        #expect(proposal.policy.version == engine.policy.version + "+audit.20261118")
        // Multi-word cues, never a bare verb.
        #expect(
            proposal.accepted.map(\.cue.id) == [
                "audit-shepherd-data", "audit-wrangle-quarterly", "audit-hammer-login", "audit-open-quarterly",
            ])
        #expect(proposal.accepted.allSatisfy { $0.cue.pattern.contains("\\s+") })
        #expect(proposal.unresolved.isEmpty)
        #expect(proposal.corpusChanges.isEmpty)
        #expect(proposal.corpusAccuracyAfter == proposal.corpusAccuracyBefore)
        #expect(Set(proposal.windowNewlyDetach.map(\.id)) == ["req_01", "req_02", "req_03", "req_04"])
        #expect(proposal.windowNewlyInline.isEmpty)

        // Applied from the file an operator would install: the misses detach, the corpus is decided exactly as before.
        let data = try Proposer.encode(proposal.policy)
        let candidate = try PolicyEngine(policy: PolicyDocument.parse(data))
        for id in ["req_01", "req_02", "req_03", "req_04"] {
            let request = try #require(inWindow.first { $0.id == id })
            #expect(engine.decide(AdmissionRequest(text: request.text)).decision == .inline)
            #expect(candidate.decide(AdmissionRequest(text: request.text)).decision == .detach, "\(id)")
        }
        for row in corpus {
            #expect(candidate.decide(row.request).decision == engine.decide(row.request).decision, "\(row.id)")
        }
        #expect(
            PolicyEvaluation(engine: candidate, requests: corpus).accuracy == PolicyEvaluation(engine: engine, requests: corpus).accuracy)
    }

    @Test func aBareVerbIsRejectedOnTheCorpusAndOnGeneratedShortRequests() throws {
        let request = AuditRequest(
            id: "req_get", origin: "cli:alice", text: "Get the quarterly figures sorted", decision: "inline", receivedAt: at(10))
        let bare = CandidateCue(
            family: "waiting", id: "audit-get", pattern: "{{clause}}get\\b", weight: 3, trigger: "wait", catchesRequest: true)
        let finding = Finding(
            kind: .candidate, findingClass: .triggerWordingGap, request: request, whatHappened: "…", evidence: [], suggestion: "…",
            indicatedTrigger: "wait", candidateCues: [bare])
        // Refused against the labelled corpus plus the generated requests…
        let withCorpus = Proposer(current: engine, corpus: try loadCorpus()).propose(findings: [finding], window: [request], version: "x")
        #expect(withCorpus.accepted.isEmpty && withCorpus.unresolved == ["req_get"])
        // …and with no corpus at all, the generated short unrelated requests alone refuse it.
        let blind = Proposer(current: engine, corpus: []).propose(findings: [finding], window: [request], version: "x")
        #expect(blind.accepted.isEmpty)
        let reason = try #require(blind.rejected.first { $0.cue.id == "audit-get" }).reason
        #expect(reason.contains("generated short unrelated request(s)") && reason.contains("\"get the door\""), "\(reason)")
        #expect(Proposer.shortUnrelated(verb: "get").map(\.text).contains("get me a coffee"))
    }

    @Test func onlyWordingGapsFeedTheProposal() throws {
        let result = Auditor(config: .default, engine: engine).audit(Seed.records, window: window, now: auditNow)
        let others = result.findings.filter { $0.findingClass != .triggerWordingGap }
        let proposal = Proposer(current: engine, corpus: try loadCorpus()).propose(findings: others, window: [], version: "x")
        #expect(proposal.accepted.isEmpty)
        #expect(proposal.policy.families == engine.policy.families)
    }

    @Test func theReportShowsTheProposalAndTheTrend() throws {
        let result = Auditor(config: .default, engine: engine).audit(Seed.records, window: window, now: auditNow)
        let proposal = Proposer(current: engine, corpus: try loadCorpus()).propose(
            findings: result.findings, window: Seed.records.requests.filter { window.contains($0.receivedAt) }, version: "v-next")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("audit-state-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(AuditTotals.previous(in: dir) == nil)
        var earlier = result
        earlier.findings = Array(result.findings.prefix(3))
        earlier.generatedAt = auditNow.addingTimeInterval(-86400)
        try AuditTotals(earlier).save(in: dir)
        let previous = try #require(AuditTotals.previous(in: dir))

        let md = AuditReport.markdown(result, previous: previous, proposal: proposal, proposalPath: "candidate.json")
        #expect(md.contains("| `trigger_wording_gap` | 4 | 3 | +1 |"))
        #expect(md.contains("| `helper_contract_gap` | 5 | 0 | +5 |"))
        #expect(md.contains("| **all** | 12 | 3 | +9 |"))
        for cls in FindingClass.allCases {
            #expect(md.contains("## `\(cls.rawValue)`"))
            #expect(md.contains(cls.response))
        }
        #expect(md.contains("> Shepherd the data migration along"))
        #expect(md.contains("- **From:** cli:alice"))
        #expect(md.contains("cue that would have caught it: family waiting, id audit-shepherd-data"))
        #expect(md.contains("Candidate policy v-next written to `candidate.json`"))
        #expect(md.contains("decisions changed: 0"))
        #expect(md.contains("- newly detach: req_01"))

        let json = AuditReport.json(result, previous: previous, proposal: proposal)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((object["totals"] as? [String: Int])?["trigger_wording_gap"] == 4)
        #expect((object["trend"] as? [String: Int])?["helper_contract_gap"] == 5)
        let findings = try #require(object["findings"] as? [[String: Any]])
        #expect(findings.count == 12)
        #expect(findings.first?["finding_class"] as? String == "trigger_wording_gap")
        #expect(((object["proposal"] as? [String: Any])?["accepted"] as? [Any])?.count == 4)
    }
}
