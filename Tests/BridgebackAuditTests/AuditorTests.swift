import BridgebackAudit
import BridgebackPolicy
import Foundation
import Testing

/// Seeded request logs covering every class: each finding classified as expected, with evidence.
@Suite struct AuditorTests {
    let engine = try! PolicyEngine.bundledDefault()

    func result() -> AuditResult {
        Auditor(config: .default, engine: engine).audit(Seed.records, window: window, now: auditNow)
    }

    func finding(_ id: String, in result: AuditResult) throws -> Finding {
        try #require(result.findings.first { $0.requestID == id }, "no finding for \(id)")
    }

    @Test func everySeededMissGetsExactlyOneExpectedClass() throws {
        let r = result()
        let classes = Dictionary(uniqueKeysWithValues: r.findings.map { ($0.requestID, $0.findingClass) })
        #expect(
            classes == [
                "req_01": .triggerWordingGap, "req_02": .triggerWordingGap, "req_03": .triggerWordingGap, "req_04": .triggerWordingGap,
                "req_05": .falsePositiveCalibration,
                "req_06": .auditReportingGap, "req_07": .auditReportingGap,
                "req_08": .helperContractGap, "req_09": .helperContractGap, "req_10": .helperContractGap, "req_11": .helperContractGap,
                "ref_01": .helperContractGap,
            ])
        #expect(r.findings.count == classes.count, "one finding per request")
        #expect(r.totals == [.triggerWordingGap: 4, .helperContractGap: 5, .auditReportingGap: 2, .falsePositiveCalibration: 1])
        #expect(r.counts.requests == 15)
        #expect(r.counts.replays == 1)
        #expect(r.count(.candidate) == 6)
        #expect(r.count(.detachFailure) == 4)
        #expect(r.counts.refusedContracts == 1)
        #expect(r.count(.reportingHole) == 2)
    }

    @Test func wordingGapsNameTheTriggerTheOutcomeShowsAndTheCueThatWouldHaveCaughtIt() throws {
        let r = result()
        let expected: [(String, String, String, String)] = [
            ("req_01", "wait", "waiting", "audit-shepherd-data"),
            ("req_02", "multi_source", "sources", "audit-wrangle-quarterly"),
            ("req_03", "verification", "verify_request", "audit-hammer-login"),
            ("req_04", "wait", "waiting", "audit-open-quarterly"),
        ]
        for (id, trigger, family, cue) in expected {
            let f = try finding(id, in: r)
            #expect(f.indicatedTrigger == trigger, "\(id)")
            let first = try #require(f.candidateCues.first)
            #expect(first.family == family && first.id == cue && first.catchesRequest, "\(id): \(first)")
            #expect(f.evidence.contains { $0.contains("cue that would have caught it") && $0.contains(cue) }, "\(id): \(f.evidence)")
            #expect(f.evidence.contains { $0.contains("indicates trigger class \(trigger)") })
        }
        // Multi-word first: the bare verb comes last.
        #expect(try finding("req_04", in: r).candidateCues.map(\.id) == ["audit-open-quarterly", "audit-open"])
        #expect(try finding("req_02", in: r).evidence.contains { $0.contains("4 sources touched: sheets-emea") })
    }

    @Test func detachFailuresCarryWhatHappened() throws {
        let r = result()
        #expect(try finding("req_09", in: r).evidence.contains { $0.contains("ended lost") })
        let launch = try finding("req_10", in: r)
        #expect(launch.whatHappened == "detached but failed to launch")
        #expect(launch.evidence.contains { $0.contains("unroutable") })
        let messy = try finding("req_11", in: r).evidence
        #expect(messy.contains { $0.contains("final delivery uncertain: webhook timed out") })
        #expect(messy.contains { $0.contains("fallback surface") })
        #expect(messy.contains { $0.contains("1 duplicate completion") })
        #expect(try finding("req_08", in: r).evidence.contains { $0.contains("forced this request inline") })
    }

    @Test func aRefusedContractIsADetachFailureWithTheRefusalAsEvidence() throws {
        let r = result()
        let f = try finding("ref_01", in: r)
        #expect(f.kind == .detachFailure)
        #expect(f.findingClass == .helperContractGap)
        #expect(f.jobID == nil)
        #expect(f.origin == "cli:alice")
        #expect(f.receivedAt == at(460))
        #expect(f.excerpt == "Page the on-call digest with the nightly backup report")
        #expect(f.decision == "refused (detach, forced)")
        #expect(f.policyVersion == "2026.11-1")
        #expect(f.whatHappened == "would have detached, but was refused a contract (direct_not_allowed)")
        #expect(
            f.evidence.contains(
                "admission refused the contract with direct_not_allowed on delivery_mode: pager:digest does not allow direct delivery; use delivery_mode \"parent\""
            ),
            "\(f.evidence)")
        #expect(
            f.evidence.contains { $0.hasPrefix("from cli:alice, decided detach (forced)") && $0.contains("policy 2026.11-1") },
            "\(f.evidence)")
        #expect(f.evidence.contains("request: Page the on-call digest with the nightly backup report"))
        #expect(f.evidence.contains { $0.contains("no job was created") })
        #expect(f.suggestion.contains("delivery_mode parent"))
        #expect(!r.findings.contains { $0.requestID == "ref_old" }, "a refusal outside the window is not a finding")
        let md = AuditReport.markdown(r, previous: nil)
        #expect(md.contains("1 refused a contract"))
        #expect(md.contains("Page the on-call digest with the nightly backup report"))
    }

    @Test func reportingGapsAndCalibrationSayWhy() throws {
        let r = result()
        #expect(try finding("req_06", in: r).evidence.contains { $0.contains("no wait_s, tool_calls, sources") })
        #expect(try finding("req_07", in: r).evidence.contains { $0.contains("no outcome for req_07") })
        let fp = try finding("req_05", in: r)
        #expect(fp.evidence.contains { $0.contains("safely small") })
        #expect(fp.suggestion.contains("many_tool_calls above 7"))
    }

    @Test func thresholdsComeFromTheAuditConfigNotThePolicy() throws {
        let json = #"{"thresholds": {"many_tool_calls": 10, "many_sources": 5}, "delivery": {"final_surface": "hooks:ops"}}"#
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("audit-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let config = try AuditConfig.load(from: url)
        #expect(config.thresholds.manyToolCalls == 10)
        #expect(config.thresholds.longTurnSeconds == AuditConfig.default.thresholds.longTurnSeconds)
        #expect(config.delivery.finalSurface == "hooks:ops")
        let r = Auditor(config: config, engine: engine).audit(Seed.records, window: window, now: auditNow)
        #expect(!r.findings.contains { $0.requestID == "req_05" }, "tuned: the small turn is no longer a finding")

        try Data(#"{"thresholds": {"many_tool_call": 10}}"#.utf8).write(to: url)
        #expect(throws: AuditError.self) { try AuditConfig.load(from: url) }
    }

    @Test func theSameRecordsGiveTheSameReport() throws {
        let a = AuditReport.markdown(result(), previous: nil)
        let b = AuditReport.markdown(result(), previous: nil)
        #expect(a == b)
        #expect(AuditReport.json(result(), previous: nil) == AuditReport.json(result(), previous: nil))
    }
}
