import Foundation
import Testing
import BridgebackCore

/// Property-based test of the splitter with a seeded generator: random mixes of paragraphs,
/// code fences (some longer than the limit), emoji, CJK, combining marks, CRLF and long lines.
@Suite struct SplitterPropertyTests {
    static let words = ["the", "release", "gate", "passed", "数据库", "迁移", "完成", "✅", "👍🏽", "🇫🇷", "e\u{301}te\u{301}", "naïve", "Ω", "—", "x"]

    static func word(_ rng: inout SeededGenerator) -> String {
        if Int.random(in: 0..<40, using: &rng) == 0 { return String(repeating: "long", count: Int.random(in: 10...80, using: &rng)) }
        if Int.random(in: 0..<60, using: &rng) == 0 { return ["```", "~~~", "``", "`inline`"].randomElement(using: &rng)! }
        return words.randomElement(using: &rng)!
    }

    static func line(_ rng: inout SeededGenerator) -> String {
        (0..<Int.random(in: 1...25, using: &rng)).map { _ in word(&rng) }.joined(separator: Bool.random(using: &rng) ? " " : "  ")
    }

    static func document(_ rng: inout SeededGenerator) -> String {
        var text = ""
        let newline = Int.random(in: 0..<5, using: &rng) == 0 ? "\r\n" : "\n"
        for _ in 0..<Int.random(in: 1...14, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...4:
                text += (0..<Int.random(in: 1...5, using: &rng)).map { _ in line(&rng) }.joined(separator: newline) + newline + newline
            case 5...7:
                let marker = ["```", "~~~", "````"].randomElement(using: &rng)!
                let info = ["", "swift", "json", "sh"].randomElement(using: &rng)!
                let lines = (0..<Int.random(in: 0...(Bool.random(using: &rng) ? 6 : 60), using: &rng)).map { _ in
                    String(repeating: " ", count: Int.random(in: 0...4, using: &rng)) + line(&rng)
                }
                text += marker + info + newline + lines.map { $0 + newline }.joined() + marker + newline
            case 8:
                text +=
                    String(repeating: ["a", "字", "😀"].randomElement(using: &rng)!, count: Int.random(in: 50...400, using: &rng)) + newline
            default:
                text += newline
            }
        }
        if Int.random(in: 0..<8, using: &rng) == 0 { text += "```" + newline + line(&rng) }  // unclosed last fence
        return text
    }

    @Test(arguments: 0..<300)
    func splitPartsRejoinFitAndRender(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed &* 7919 &+ 1)
        let text = Self.document(&rng)
        let unit = LengthUnit.allCases.randomElement(using: &rng)!
        let limit = Int.random(in: 60...700, using: &rng)
        let parts: [SplitPart]
        do {
            parts = try TextSplitter.split(text, limit: limit, unit: unit)
        } catch {
            // Only legitimate when one grapheme or a fence's own marker lines cannot fit.
            #expect(error.code == .limitTooSmall)
            return
        }
        // Rejoin to the original, exactly, and bodies are grapheme-aligned slices.
        #expect(TextSplitter.rejoin(parts) == text, "seed \(seed)")
        #expect(parts.flatMap { Array($0.body) } == Array(text), "seed \(seed): a grapheme was split")
        // Every part within the limit, valid UTF-8, not empty.
        for part in parts {
            #expect(unit.measure(part.text) <= limit, "seed \(seed): part of \(unit.measure(part.text)) > \(limit)")
            #expect(String(validating: Array(part.text.utf8), as: UTF8.self) == part.text)
            #expect(!part.body.isEmpty)
        }
        // No part leaves a code fence open (except where the original itself ends open).
        let original = FenceOracle.spans(text)
        for (index, part) in parts.enumerated() where !(index == parts.count - 1 && original.endsOpen) {
            #expect(!FenceOracle.spans(part.text).endsOpen, "seed \(seed): part \(index + 1) breaks a fence:\n\(part.text)")
        }
        // A fence that fits in one part is never split.
        let chars = Array(text)
        var offsets: [Int] = [0]
        for part in parts { offsets.append(offsets.last! + part.body.count) }
        for span in original.spans where unit.measure(String(chars[span.start..<span.end])) <= limit {
            let inside = offsets.contains { $0 > span.start && $0 < span.end }
            #expect(!inside, "seed \(seed): a fence of \(unit.measure(String(chars[span.start..<span.end]))) ≤ \(limit) was split")
        }
    }

    /// Guards the generator itself: the seeds above must reach the hard cases.
    @Test func generatorCoversTheHardCases() throws {
        var reopened = 0, rejected = 0, multiPart = 0, crlf = 0
        for seed in UInt64(0)..<300 {
            var rng = SeededGenerator(seed: seed &* 7919 &+ 1)
            let text = Self.document(&rng)
            let unit = LengthUnit.allCases.randomElement(using: &rng)!
            let limit = Int.random(in: 60...700, using: &rng)
            if text.contains("\r\n") { crlf += 1 }
            guard let parts = try? TextSplitter.split(text, limit: limit, unit: unit) else {
                rejected += 1
                continue
            }
            if parts.count > 1 { multiPart += 1 }
            if parts.contains(where: { !$0.addedPrefix.isEmpty }) { reopened += 1 }
        }
        #expect(reopened >= 20, "only \(reopened) documents split an oversized fence")
        #expect(multiPart >= 150)
        #expect(crlf >= 20)
        #expect(rejected <= 3, "\(rejected) documents were rejected as limit too small")
    }
}
