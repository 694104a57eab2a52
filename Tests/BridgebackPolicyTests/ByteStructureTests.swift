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
        ]
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
