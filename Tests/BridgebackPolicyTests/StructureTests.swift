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

    @Test("a polite request phrased as a question is a request, wherever its modal stands")
    func politeRequestAsQuestion() {
        for text in [
            "Quick question - could you reconcile every card payment from May against the bank feed?",
            "Before the audit, would you pull the signed copies of all 80 supplier contracts?",
        ] {
            let d = decide(text)
            #expect(d.decision == .detach, "\(text): \(d.reason)")
            #expect(!d.cues.contains { $0.family == "question" }, "\(text): \(d.reason)")
        }
        // Asking *about* something with the same opening stays a question.
        #expect(decide("Could you explain how a card reconciliation works?").decision == .inline)
        #expect(decide("Why would you reconcile every payment by hand?").decision == .inline)
    }

    @Test("a question about the present state of everything we own is inventory work")
    func inventoryQuestion() {
        let d = decide("Do any of our storage accounts anywhere still allow anonymous reads?")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "inventory-question" }, "\(d.reason)")
        // Opinion or practice questions about the same things are not.
        #expect(decide("Should any of our storage accounts still allow anonymous reads?").decision == .inline)
        #expect(decide("Is it normal that some of our old accounts are still public?").decision == .inline)
    }

    @Test("an instruction acting on a whole collection counts; an answer verb does not")
    func workOnMany() {
        let d = decide("Re-encode all the onboarding videos in the media library.")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "work-on-many" }, "\(d.reason)")
        #expect(!decide("List all the ISO country codes in Europe.").cues.contains { $0.cue == "work-on-many" })
    }

    @Test("an event, then an instruction opened by please or then, with no comma")
    func eventWithoutComma() {
        let d = decide("as soon as the courier drops off the samples please log them in the lab tracker")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "event-then-action" }, "\(d.reason)")
    }

    @Test("reports: a heading sentence, a subject before a past verb, a list after a finished clause")
    func reportShapes() {
        for text in [
            "Short status update: the re-index of all 40 search clusters finished overnight.",
            "Invoicing for all 900 customers went out this morning.",
            "Support went through every ticket, macro and saved reply; nothing left to do.",
        ] {
            let d = decide(text)
            #expect(d.decision == .inline, "\(text): \(d.reason)")
            #expect(d.cues.contains { $0.family == "report" }, "\(text): \(d.reason)")
        }
    }

    @Test("policy 2026.12-4: an event verb outside any closed list, with no comma, then a listed work verb")
    func eventVerbWithoutComma() {
        let d = decide("as soon as the landlord signs reconcile the deposit against the inventory list")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "event-then-action" }, "\(d.reason)")
        // "to" before the verb keeps it in the event clause: no instruction, no event.
        #expect(!decide("when the team wants to update the sheet").cues.contains { $0.cue == "event-then-action" })
    }

    @Test("policy 2026.12-4: an inventory question inside a statement; a possibility is no report")
    func embeddedInventoryAndPossibility() {
        let d = decide("I'd like to know whether any of our ad accounts, in any region, are still billed to the old card.")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "inventory-question" }, "\(d.reason)")
        #expect(
            !decide("I wonder whether any of our ad accounts should still be billed that way.").cues.contains {
                $0.cue == "inventory-question"
            })
        let p = decide("There might still be old API tokens hardcoded in our scripts. I need every one of them found.")
        #expect(!p.cues.contains { $0.family == "report" }, "\(p.reason)")
    }

    @Test("policy 2026.12-4: an ask embedded after an opener, and a sentence opened by 'hit', are instructions")
    func embeddedAskAndHit() {
        let d = decide("Any chance you could re-file all the 2023 receipts by supplier?")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(!d.cues.contains { $0.family == "question" }, "\(d.reason)")
        #expect(decide("Any chance you could explain how receipts are filed?").decision == .inline)
        let h = decide("did the cache purge actually work? hit every product page and list the ones still stale")
        #expect(h.decision == .detach, "\(h.reason)")
    }

    @Test("policy 2026.12-4: a literal to check after a colon is the object, not a schedule")
    func givenLiteral() {
        let d = decide("can you confirm this cron fires every weekday at 7am: 0 7 * * 1-5")
        #expect(d.decision == .inline, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "given-literal" }, "\(d.reason)")
        #expect(!d.cues.contains { $0.family == "recurrence" || $0.family == "waiting" }, "\(d.reason)")
        // The same schedule as work, with no literal, still detaches.
        #expect(decide("Every weekday at 7am, check the overnight batch and email me the failures.").decision == .detach)
    }

    @Test("policy 2026.12-4: 'Do the … first' after a question is an instruction; a 'Context:' heading opens a report")
    func doAndContext() {
        let d = decide(
            "Can we get the new firmware onto the printers today? Do the office ones first, then the warehouse, and stop if any fail.")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(!d.cues.contains { $0.family == "question" }, "\(d.reason)")
        #expect(decide("Do the office printers need new firmware?").decision == .inline)
        let c = decide("Context: we re-indexed every one of the 300 search shards last week.")
        #expect(c.decision == .inline, "\(c.reason)")
        #expect(c.cues.contains { $0.family == "report" }, "\(c.reason)")
    }

    @Test("policy 2026.12-4: 'please you <verb>' instructs; a subordinator ends the subject before a past form")
    func pleaseYouAndSubordinators() {
        let d = decide("when the scan is finish please you check the output folder and send me the count")
        #expect(d.decision == .detach, "\(d.reason)")
        #expect(d.cues.contains { $0.cue == "event-then-action" }, "\(d.reason)")
        let h = decide("give me a shout once the overnight import has finished")
        #expect(h.decision == .detach, "\(h.reason)")
        #expect(!h.cues.contains { $0.family == "report" }, "\(h.reason)")
        // A report with the same words stays one.
        #expect(decide("The overnight import finished once the lock cleared.").decision == .inline)
    }

    @Test("a policy naming an unknown structure feature is refused with the known ones")
    func unknownFeature() {
        let json = replacingOnce(minimalPolicyJSON, #""{{clause}}verify\\b""#, #""@nonsense""#)
        #expect(throws: PolicyError.self) { try parsePolicy(json) }
        do { _ = try parsePolicy(json) } catch { #expect(error.reason.contains("@request_form")) }
    }

    @Test("the labelled files: training rows, the blind batches of 2026-12-06 and the held-out rows meet the goals")
    func ownCorpus() throws {
        // Both blind batches are training data since their figures were recorded (the first: 0.847 under 2026.12-1;
        // the second, blind-2026-12-06b: 0.900 under 2026.12-2).
        // The third and fourth, blind-2026-12-06c and -d, since 2026.12-4 (0.893 and 0.940 under 2026.12-3), and batch G
        // (0.867 under 2026.12-4 before it was tuned on).
        let files = [
            ("train.jsonl", 0.95), ("heldout.jsonl", 0.95), ("blind-2026-12-06.jsonl", 0.95), ("blind-2026-12-06b.jsonl", 0.95),
            ("blind-2026-12-06c.jsonl", 0.95), ("blind-2026-12-06d.jsonl", 0.95), ("blind-2026-12-06g.jsonl", 0.95),
        ]
        for (file, minimum) in files {
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
