import BridgebackPolicy
import Foundation
import Testing

/// Whole-request structure: question then instruction, reports of done work, event then action;
/// and the policy engineer's own corpus (train and the frozen held-out part).
@Suite("Request structure")
struct StructureTests {
    @Test("a question followed by an instruction is a request, not a question")
    func questionThenInstruction() {
        let d = decide("Did the migration actually stick? Check each of our regional databases and list missing rows.")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(!d.cues.contains { $0.family == "question" })
    }

    @Test("a report of done work with scope words stays inline and says so")
    func reportOfDoneWork() {
        for text in [
            "FYI: rolled out the new build to all 30 offices last night, no issues.",
            "Migrated every tenant database yesterday and the old cluster is off.",
        ] {
            let d = decide(text)
            #expect(d.decision == .inline, "\(text): \(d.reason)")
            #expect(d.cues.contains { $0.family == "report" }, "\(text): \(d.reason)")
        }
        // An instruction with the same words is not a report.
        #expect(!decide("Roll out the new build to all 30 offices tonight.").cues.contains { $0.family == "report" })
        #expect(!decide("Update the address on every supplier in Porto.").cues.contains { $0.family == "report" })
    }

    @Test("when an outside event happens, then act: waits")
    func eventThenAction() {
        let d = decide("When the auditor sends the signed letter, store it with the 2026 accounts and tell finance.")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.triggers.contains(.wait))
        // A hypothetical question with the same opening is not.
        #expect(decide("When the auditor sends the letter, who should sign it?").decision == .inline)
    }

    @Test("a policy naming an unknown structure feature is refused with the known ones")
    func unknownFeature() {
        let json = replacingOnce(minimalPolicyJSON, #""{{clause}}verify\\b""#, #""@nonsense""#)
        #expect(throws: PolicyError.self) { try parsePolicy(json) }
        do { _ = try parsePolicy(json) } catch { #expect(error.reason.contains("@request_form")) }
    }

    @Test("the policy engineer's corpus: training rows and the held-out rows meet the goals")
    func ownCorpus() throws {
        for (file, minimum) in [("train.jsonl", 0.95), ("heldout.jsonl", 0.95)] {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("data/admission/\(file)")
            let (rows, errors) = ClassifyLines.labelled(from: try String(contentsOf: url, encoding: .utf8))
            #expect(errors.isEmpty && rows.count >= 150)
            let eval = PolicyEvaluation(engine: defaultEngine, requests: rows)
            #expect(eval.accuracy >= minimum, "\(file)\n\(eval.report())")
            #expect(Double(eval.trapsInline) >= 0.95 * Double(eval.traps.count), "\(file)")
            #expect((eval.detachRecall ?? 0) >= 0.9, "\(file)")
        }
    }
}
