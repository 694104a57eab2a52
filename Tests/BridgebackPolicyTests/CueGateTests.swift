import Foundation
import Testing

@testable import BridgebackPolicy

/// The inverted prefilter (`CueGate`, what the byte engine asks) against each cue's own
/// `CuePrefilter.allows(Grams(text))` (what the ICU engine asks): the same cues allowed on every
/// labelled row, generated requests and edge texts, for the shipped policy's prefilters.
@Suite("Cue gate equals the per-cue prefilters")
struct CueGateTests {
    @Test("labelled rows, generated requests and edge texts: the same cues allowed")
    func sameCues() throws {
        let policy = try PolicyDocument.bundledDefault()
        let filters = policy.families.flatMap { $0.cues }.map { $0.pattern.hasPrefix("@") ? nil : CuePrefilter.derive(from: $0.pattern) }
        #expect(filters.compactMap { $0 }.count >= 50)
        let gate = try #require(CueGate(filters: filters))
        let rows = ByteEngineTests.labelledRows()
        var texts = rows.map(\.request.text) + ByteEngineTests.generated(from: rows, count: 1500).map(\.text)
        texts += ["", "a", "ab", "x9y", "_under_score", "UPPER case", "caf\u{E9} verify", "verify", "re-run", "v1.2", "12,000"]
        var allowedSomewhere = 0
        for text in texts {
            let bytes = Array(PolicyEngine.normalize(text).lowercased().utf8)
            let grams = Grams(bytes: bytes)
            var allowed = [UInt64](repeating: 0, count: gate.words)
            bytes.withUnsafeBufferPointer { t in allowed.withUnsafeMutableBufferPointer { gate.allowed(t, into: $0.baseAddress!) } }
            for (i, filter) in filters.enumerated() {
                let reference = filter?.allows(grams) ?? true
                let got = allowed[i / 64] & (1 << UInt64(i % 64)) != 0
                #expect(got == reference, "cue \(i) on \(text.debugDescription)")
                if filter != nil && got { allowedSomewhere += 1 }
            }
        }
        // Not vacuous: filtered cues are let through on many texts (and kept out on the rest).
        #expect(allowedSomewhere >= texts.count)
    }
}
