import BridgebackPolicy
import Foundation
import Testing

/// The byte engine (`decide`) against the ICU engine it replaced (`decideWithICU`): the same
/// decision *and* the same explanation — reason, cues, quoted text, score — on every labelled
/// row this repository and shared/ have, and on requests generated from them.
@Suite("Byte engine equals the ICU engine")
struct ByteEngineTests {
    /// Every labelled row: data/admission/*.jsonl, shared/data's corpus and the fixture snapshot.
    static func labelledRows(filePath: String = #filePath) -> [LabelledRequest] {
        let repo = URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        // Every labelled file in data/admission (train, held-out and the blind batches).
        let data = repo.appendingPathComponent("data/admission")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? ["train.jsonl", "heldout.jsonl"]
        var urls = names.filter { $0.hasSuffix(".jsonl") }.sorted().map { data.appendingPathComponent($0) }
        urls.append(repo.appendingPathComponent("Tests/Fixtures/admission-corpus.jsonl"))
        if let shared = locateCorpus() { urls.append(shared) }
        var rows: [LabelledRequest] = []
        for url in urls {
            guard let text = try? String(contentsOf: url, encoding: .utf8) else { continue }
            rows += ClassifyLines.labelled(from: text).requests
        }
        return rows
    }

    /// A deterministic generator (SplitMix64), so a failure names a request that reproduces.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
    }

    /// Requests built from the corpus's own words and sentences, recombined: spliced sentences,
    /// shuffled and dropped words, clause joiners, question marks, quotes, parentheses, numbers
    /// and case changes in odd places — the edges where a matcher differs from ICU.
    static func generated(from rows: [LabelledRequest], count: Int) -> [AdmissionRequest] {
        var g = Generator(state: 16)
        let texts = rows.map(\.request.text)
        let words = texts.flatMap { $0.split(separator: " ").map(String.init) }
        let joiners = [
            ", ", ". ", "? ", "; ", ": ", " and ", " then ", ", then ", " (", ") ", " — ", "\n", " \"", "\" ", " please ",
            ", can you ", " and also ", "! ", " … ", " / ",
        ]
        let extras = [
            "every 5 minutes", "all 40 stores", "12,000 records", "2026", "3.8.0", "v1.2 and v1.4", "iOS, Android and web",
            "let me know when", "ping me once it clears", "right?", "usually", "(usually)", "don't", "can't", "it's", "o'clock",
            "re-run", "double-check", "_id", "foo_bar", "#general", "a/b", "50%", "10k rows", "FYI:", "Update:", "run", "and run",
            "then verify", "roll it back if", "walk through", "\"quoted text\"", "`code`", "{", "[x]", "$5", "x*y", "3 x 4",
        ]
        var out: [AdmissionRequest] = []
        for _ in 0..<count {
            var parts: [String] = []
            for _ in 0..<(1 + g.below(4)) {
                switch g.below(5) {
                case 0: parts.append(g.pick(texts))
                case 1: parts.append((0..<(1 + g.below(12))).map { _ in g.pick(words) }.joined(separator: " "))
                case 2: parts.append(g.pick(extras))
                case 3:
                    let t = g.pick(texts)
                    let cut = t.index(t.startIndex, offsetBy: g.below(max(1, t.count)))
                    parts.append(g.below(2) == 0 ? String(t[..<cut]) : String(t[cut...]))
                default:
                    var ws = g.pick(texts).split(separator: " ").map(String.init)
                    if ws.count > 1 { ws.swapAt(g.below(ws.count), g.below(ws.count)) }
                    parts.append(ws.joined(separator: " "))
                }
            }
            var text = parts[0]
            for p in parts.dropFirst() { text += g.pick(joiners) + p }
            if g.below(4) == 0 { text = text.uppercased() }
            if g.below(6) == 0 { text += g.pick(["?", ".", "!", " ?", ",", " and", " then", " (", "\""]) }
            let hints: AdmissionHints? =
                g.below(5) == 0 ? AdmissionHints(expectedWaitSeconds: Double(g.below(300)), sources: g.below(5)) : nil
            out.append(AdmissionRequest(text: text, hints: hints))
        }
        return out
    }

    @Test("the shipped policy runs on the byte engine")
    func shippedPolicyCompiles() {
        #expect(defaultEngine.usesByteEngine)
    }

    @Test("every labelled row: same decision and same explanation")
    func labelled() {
        let rows = Self.labelledRows()
        #expect(rows.count >= 300, "expected the repository's and shared/'s labelled rows, found \(rows.count)")
        var onBytes = 0
        for row in rows {
            if defaultEngine.takesByteEngine(row.request) { onBytes += 1 }
            let fast = defaultEngine.decide(row.request)
            let reference = defaultEngine.decideWithICU(row.request)
            #expect(fast == reference, "\(row.id): \(row.request.text)\nbyte: \(fast.reason)\nICU:  \(reference.reason)")
        }
        // Not vacuous: nearly every row is ASCII and so was decided by the byte engine.
        #expect(onBytes * 10 >= rows.count * 9, "only \(onBytes) of \(rows.count) rows took the byte engine")
    }

    @Test("generated requests: same decision and same explanation")
    func generatedRequests() {
        let requests = Self.generated(from: Self.labelledRows(), count: 1500)
        var mismatches = 0
        for request in requests {
            let fast = defaultEngine.decide(request)
            let reference = defaultEngine.decideWithICU(request)
            if fast != reference {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("differs on: \(request.text.debugDescription)\nbyte: \(fast.reason)\nICU:  \(reference.reason)")
                }
            }
        }
        #expect(mismatches == 0)
    }

    @Test("edge texts: empty, punctuation only, clause starts at the very end, non-ASCII")
    func edges() {
        let texts = [
            "", " ", "?", ",", "(", "and", "please", "run", "and run", "check that", "x.", "every", "all", "a, b, and c",
            "wait for it", "Deploy, and then", "verify\u{00A0}the backups", "Vérifie every backup on all hosts",
            "Check the ×3 multiplier on every shard", "When the report arrives, file it and update the tracker.",
        ]
        for text in texts {
            let request = AdmissionRequest(text: text)
            #expect(defaultEngine.decide(request) == defaultEngine.decideWithICU(request), "\(text.debugDescription)")
        }
        #expect(!defaultEngine.takesByteEngine(AdmissionRequest(text: "Vérifie every backup")))
        #expect(defaultEngine.takesByteEngine(AdmissionRequest(text: "Verify every backup")))
    }

    @Test("a policy with a construct the byte engine does not implement runs on ICU, unchanged")
    func unsupportedFallsBack() throws {
        let json = replacingOnce(minimalPolicyJSON, #""{{clause}}verify\\b""#, #""(?<=\\s)verify\\b""#)
        let engine = try PolicyEngine(policy: parsePolicy(json))
        #expect(!engine.usesByteEngine)
        let request = AdmissionRequest(text: "please verify the backups")
        #expect(engine.decide(request) == engine.decideWithICU(request))
        #expect(engine.decide(request).decision == .detach)
    }
}
