@testable import BridgebackAudit
import BridgebackPolicy
import Foundation
import Testing

/// The report's small words: plurals, durations, forced-decision evidence, JSON keys.
@Suite("Audit wording")
struct WordingTests {
    @Test("durations read in whole units and counts agree in number")
    func units() {
        #expect(Auditor.seconds(150) == "2 min 30 s")
        #expect(Auditor.seconds(640) == "10 min 40 s")
        #expect(Auditor.seconds(2400) == "40 min")
        #expect(Auditor.seconds(7500) == "2 h 5 min")
        #expect(Auditor.seconds(12.34) == "12.3 s")
        #expect(Auditor.count(1, "source") == "1 source")
        #expect(Auditor.count(3, "follow-up") == "3 follow-ups")
    }

    @Test("forced evidence says whether the policy agreed, from the logged reason")
    func forced() {
        let agreed = AuditRequest(
            id: "r1", origin: "chat", text: "x", decision: "inline", forced: true,
            reason: "Forced inline by the caller's force hint, agreeing with the policy's inline: no cue fired.",
            receivedAt: Date(timeIntervalSince1970: 0))
        #expect(Auditor.forcedEvidence(agreed).contains("the policy agreed"))
        #expect(!Auditor.forcedEvidence(agreed).contains("not asked"))
        var overrode = agreed
        overrode.reason = "Forced inline by the caller's force hint, overriding the policy's detach: …"
        #expect(Auditor.forcedEvidence(overrode).contains("would have decided otherwise"))
    }

    @Test("a proposal's fixed requests are encoded under request_ids")
    func requestIDsKey() throws {
        let accepted = Proposer.Accepted(
            cue: CandidateCue(
                family: "waiting", id: "audit-x", pattern: "\\bfoo\\s+bar\\b", weight: 1, trigger: "wait", catchesRequest: true),
            requestIDs: ["r1"])
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = String(decoding: try encoder.encode(accepted), as: UTF8.self)
        #expect(json.contains("\"request_ids\""))
        #expect(!json.contains("request_i_ds"))
    }

    @Test("a slow plain question gets no cue advice; a hint that kept a request inline is named")
    func questionAndHint() throws {
        let engine = try PolicyEngine.bundledDefault()
        let slow = InlineOutcome(requestID: "q", durationSeconds: 150, toolCalls: 0, succeeded: true)
        let q = engine.decide(AdmissionRequest(text: "What is the difference between a canary and a blue-green deploy?"))
        #expect(Auditor.plainQuestion(q, slow) != nil)
        let work = engine.decide(AdmissionRequest(text: "Verify the backups on all 30 servers."))
        #expect(Auditor.plainQuestion(work, slow) == nil)
        let busy = InlineOutcome(requestID: "q", durationSeconds: 150, toolCalls: 9, succeeded: true)
        #expect(Auditor.plainQuestion(q, busy) == nil)

        let hinted = engine.decide(
            AdmissionRequest(text: "Tidy the shared notes for the offsite.", hints: AdmissionHints(expectedWaitSeconds: 5)))
        #expect(Auditor.inlineHint(hinted) == "expected_wait_s=5")
        #expect(Auditor.inlineHint(q) == nil)
    }

    @Test("multi-line text stays inside its Markdown list item")
    func multiLine() {
        let text = AuditReport.continued("ended in failure: exit 1\nTraceback (most recent call last):\n\n  File \"x.py\"", indent: 4)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.dropFirst().allSatisfy { $0.hasPrefix("    ") && !$0.hasPrefix("    -") })
    }
}
