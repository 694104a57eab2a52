import Foundation
import Testing

@testable import BridgebackPolicy

/// The inverted prefilter (`CueGate`, what the byte engine asks) against each cue's own
/// `CuePrefilter.allows(Grams(text))` (what the ICU engine asks) and, for a gate built with the
/// byte programs' `MatchNeeds`, against those conditions checked one by one: the same cues allowed
/// on every labelled row, generated requests and edge texts, for the shipped policy.
@Suite("Cue gate equals the per-cue prefilters and needs")
struct CueGateTests {
    /// The shipped policy's prefilters and its cues' byte programs (nil for structure cues), in plan order.
    static func shippedCues() throws -> (filters: [CuePrefilter?], programs: [ByteRegex?]) {
        let policy = try PolicyDocument.bundledDefault()
        var filters: [CuePrefilter?] = []
        var programs: [ByteRegex?] = []
        for cue in policy.families.flatMap(\.cues) {
            guard !cue.pattern.hasPrefix("@") else {
                filters.append(nil)
                programs.append(nil)
                continue
            }
            filters.append(CuePrefilter.derive(from: cue.pattern))
            var source = cue.pattern
            if let (_, rest) = PolicyEngine.leadingAnchor(cue.pattern, macros: policy.macros) { source = rest }
            guard case .success(let expanded) = RegexCompiler.expand(source, macros: policy.macros) else {
                throw PolicyError(kind: .invalidPattern, reason: "cue \(cue.id) does not expand")
            }
            programs.append(ByteRegex.cached(RegexCompiler.lowercasePattern(expanded)))
        }
        return (filters, programs)
    }

    static var texts: [String] {
        let rows = ByteEngineTests.labelledRows()
        var texts = rows.map(\.request.text) + ByteEngineTests.generated(from: rows, count: 1500).map(\.text)
        texts += ["", "a", "ab", "x9y", "_under_score", "UPPER case", "caf\u{E9} verify", "verify", "re-run", "v1.2", "12,000"]
        texts += ["why?", "50%", "~3000 rows", "a, b and c", "\"quoted\"", "3 x 4 = 12", "over 10k", "hundreds of files"]
        return texts
    }

    @Test("labelled rows, generated requests and edge texts: the same cues allowed as the prefilters")
    func sameCues() throws {
        let (filters, _) = try Self.shippedCues()
        #expect(filters.compactMap { $0 }.count >= 50)
        let gate = try #require(CueGate(filters: filters))
        var allowedSomewhere = 0
        let texts = Self.texts
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

    @Test("with needs: a cue runs exactly when its prefilter allows it and each need has a code in the text")
    func sameCuesWithNeeds() throws {
        let (filters, programs) = try Self.shippedCues()
        let needs = programs.map { $0?.needs }
        #expect(needs.compactMap { $0 }.filter { !$0.conditions.isEmpty }.count >= 80, "most cues should carry needs")
        let gate = try #require(CueGate(filters: filters, needs: needs))
        // Each condition's gate codes, once (deriving a code is far slower than looking it up).
        let codes = needs.map { need in need?.conditions.map { $0.map { GateCode($0)! } } ?? [] }
        var keptOut = 0
        for text in Self.texts {
            let bytes = Array(PolicyEngine.normalize(text).lowercased().utf8)
            let grams = Grams(bytes: bytes)
            var allowed = [UInt64](repeating: 0, count: gate.words)
            bytes.withUnsafeBufferPointer { t in allowed.withUnsafeMutableBufferPointer { gate.allowed(t, into: $0.baseAddress!) } }
            for (i, filter) in filters.enumerated() {
                var reference = filter?.allows(grams) ?? true
                if grams.isUsable, reference, needs[i] != nil {
                    for condition in codes[i] {
                        let met = condition.contains { code in
                            switch code {
                            case .gram(let code): return grams.contains(code)
                            case .byte(let b): return bytes.contains(b)
                            }
                        }
                        if !met { reference = false }
                    }
                    if !reference { keptOut += 1 }
                }
                let got = allowed[i / 64] & (1 << UInt64(i % 64)) != 0
                #expect(got == reference, "cue \(i) on \(text.debugDescription)")
            }
        }
        // Not vacuous: the needs keep cues out that the prefilters alone let run.
        #expect(keptOut >= Self.texts.count)
    }
}
