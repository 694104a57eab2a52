import Foundation
import Testing

@testable import BridgebackPolicy

/// The structure pass on bytes (what the byte engine runs) against the `String` reference (what
/// the ICU engine runs): the same features with the same quoted words on every labelled row, on
/// generated requests and on edge texts, after the engine's own normalisation and lowercasing.
@Suite("Structure on bytes equals the String reference")
struct ByteStructureTests {
    static func compare(_ text: String) -> (RequestStructure.Evidence, RequestStructure.Evidence)? {
        let normalized = PolicyEngine.normalize(text).lowercased()
        guard normalized.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        let onBytes = Array(normalized.utf8).withUnsafeBufferPointer { RequestStructure(bytes: $0).evidence }
        return (onBytes, RequestStructure(normalized).evidence)
    }

    @Test("labelled rows, generated requests and edge texts")
    func sameEvidence() {
        let rows = ByteEngineTests.labelledRows()
        var texts = rows.map(\.request.text)
        texts += ByteEngineTests.generated(from: rows, count: 1500).map(\.text)
        texts += [
            "", ".", "?", ",", "fyi", "FYI:", "update", "Update: migrated the db.", "Update the prefix on every contact.",
            "heads up, we deployed", "just so you know", "so can you please check", "i need you to run it", "help me fix it",
            "go ahead and ship", "as soon as it lands, tag it", "when you arrive, call me", "when it lands, tag it.",
            "a-b-c 3.8.0 e.g. x", "don't, won't", "ran it", "the files uploaded by ops", "we need whatever updated",
            "abcdefghijklmnopqrstuvwxyz words longer than sixteen bytes", "supercalifragilistic ran", "lmk", "pls check",
            "checking it", "checks it", "really nice", "it's done", "rolled back, all fine", "status", "good news",
            "quick update. rotated every key", "when the letter arrives, you file it, and update", "'quoted' -dash",
            // Shapes of policy 2026.12-2 (RequestShapes.swift).
            "heads up for the record. rotated every key", "quick update for the record: the audit of all 60 sites wrapped up.",
            "are any of our certs anywhere still expiring?", "do we still have any vms left in any of our accounts?",
            "which of my buckets are still public?", "is any of our stuff still used? how would we know?",
            "any api keys left in any of our projects?", "are any of our domains still expiring this month?",
            "have any of our tls certs expired anywhere?", "is there any of our old dns anywhere still live?",
            "any stale accounts remaining in our directory?", "do any of our repos still pin the old base image?",
            "which of our laptops are still unpatched?", "has any of our data anywhere been left public?",
            "quick q - could you check every invoice?", "before the move, could you compare all rows?", "could you explain it?",
            "when the parcel arrives pls forward it to hr", "once it lands then tag every image", "if you can please check it",
            "payroll for all 300 staff went out today.", "search for all files changed in the last week",
            "look for any hard-coded keys across our repos", "quarter we'll probably audit all vendors", "resize all the images",
            "update the prefix on every contact", "list all the codes", "not now, but rename every file later.",
            "procurement went through every contract, certificate and bank detail; all fine.",
            // Policy 2026.12-3: a past form after a determiner or a possessive describes a noun.
            "going forward, at close of business fridays, archive the week's closed matters", "it's fixed, the team's closed it",
            "send our finished drafts to legal", "the updated list is attached", "ops's closed tickets", "that's closed now",
            "x's fixed", "the team rebuilt the closed ones", "we deployed the patched build", "a fixed price for the", "their",
        ]
        // Policy 2026.12-4: event verbs with no comma, embedded asks and inventory questions, "hit", given literals.
        texts += [
            "as soon as payroll closes on friday reconcile it", "when the team wants to update the sheet", "once it ships send it",
            "when the logs rotate check them", "any chance you could go through all the orders?", "do you think you could tag every post?",
            "i was wondering if you could explain it?", "hit each of the 200 urls", "hit 10k rps yesterday",
            "i want to know whether any of our buckets, in any account, are still public.",
            "whether any of the 60-odd sites we host are still on php 7 - need a list", "figure out which of my devices still have telnet",
            "there may still be old keys in our repos", "update the footer on the 25-ish pages", "load test: 10k rps, p99 180 ms.",
            "confirm this cron runs at 2:30am: 30 2 * * 1-5", "verify this iban: de89 3704 0044 0532 0130 00",
            "check this regex: ^[a-z]+$", "is this right: 2 + 2 = 5", "test whether it works: f(x) = 3", "confirm: yes", "check all: 1 2 3",
            "is this cron ok: 0 23 * * *", "does this parse: {a: 1}", "validate this: 10.0.0.1", "confirm the total: 1,204.50",
            "check this one: x", "verify it: ", "is it valid: 4111 1111 1111 1111", "check the sum: 12 + 30 = 42",
        ]
        texts += [
            "do the lab ones first, then the rest", "do the lab ones first?", "do it", "do you know", "context: we moved every box.",
            "background: migrated all 40 dbs", "context", "recap: shipped it. then send it",
        ]
        texts += [
            "please you check it", "pls u send the file", "please you", "please you the", "kindly you restart all hosts",
            "holler at me once the load has cleared", "which of the laptops we've handed out still lack it",
            "any of the vms we're running still on ubuntu 18?", "so please you verify", "please can you you check",
        ]
        for file in [
            "blind-2026-12-06.jsonl", "blind-2026-12-06b.jsonl", "blind-2026-12-06c.jsonl", "blind-2026-12-06d.jsonl",
            "blind-2026-12-06g.jsonl",
        ] {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("data/admission/\(file)")
            if let text = try? String(contentsOf: url, encoding: .utf8) {
                texts += ClassifyLines.labelled(from: text).requests.map(\.request.text)
            }
        }
        var compared = 0
        var held: [StructureFeature: Int] = [:]
        for text in texts {
            guard let (onBytes, reference) = Self.compare(text) else { continue }
            compared += 1
            #expect(onBytes == reference, "\(text.debugDescription)")
            for feature in StructureFeature.allCases where reference[feature] != nil { held[feature, default: 0] += 1 }
        }
        #expect(compared >= 1500)
        // Not vacuous: every feature holds, with its quoted words, on some of the texts.
        for feature in StructureFeature.allCases {
            #expect(held[feature, default: 0] >= 10, "\(feature) held \(held[feature, default: 0]) times")
        }
    }
}
