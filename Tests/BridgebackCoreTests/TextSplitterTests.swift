import Foundation
import Testing
import BridgebackCore

@Suite struct TextSplitterTests {
    @Test func shortTextIsOnePart() throws {
        let parts = try TextSplitter.split("hello", limit: 100, unit: .utf8Bytes)
        #expect(parts.count == 1 && parts[0].text == "hello" && parts[0].addedPrefix.isEmpty)
        #expect(try TextSplitter.split("", limit: 10, unit: .utf8Bytes).map(\.text) == [""])
    }

    @Test func prefersParagraphsThenLinesThenWords() throws {
        let paragraphs = "aaaa aaaa aaaa\n\nbbbb bbbb bbbb\n\ncccc cccc cccc"
        #expect(
            try TextSplitter.split(paragraphs, limit: 32, unit: .utf8Bytes).map(\.text) == [
                "aaaa aaaa aaaa\n\nbbbb bbbb bbbb\n\n", "cccc cccc cccc",
            ])
        let lines = "aaaa aaaa aaaa\nbbbb bbbb bbbb\ncccc cccc cccc"
        #expect(
            try TextSplitter.split(lines, limit: 20, unit: .utf8Bytes).map(\.text) == [
                "aaaa aaaa aaaa\n", "bbbb bbbb bbbb\n", "cccc cccc cccc",
            ])
        let words = "alpha beta gamma delta epsilon"
        #expect(try TextSplitter.split(words, limit: 12, unit: .utf8Bytes).map(\.text) == ["alpha beta ", "gamma delta ", "epsilon"])
        let long = String(repeating: "x", count: 25)
        #expect(try TextSplitter.split(long, limit: 10, unit: .utf8Bytes).map(\.text.count) == [10, 10, 5])
    }

    @Test func neverSplitsAFenceThatFits() throws {
        let fence = "```swift\nlet a = 1\nlet b = 2\n```\n"
        let text = "intro words here\n" + fence + "outro words here"
        let parts = try TextSplitter.split(text, limit: 40, unit: .utf8Bytes)
        #expect(parts.contains { $0.body.contains(fence) })
        #expect(TextSplitter.rejoin(parts) == text)
    }

    @Test func oversizedFenceIsClosedAndReopened() throws {
        let code = (1...30).map { "let value\($0) = \($0)" }.joined(separator: "\n")
        let text = "Result:\n\n```swift\n" + code + "\n```\nDone."
        let parts = try TextSplitter.split(text, limit: 120, unit: .utf8Bytes)
        #expect(parts.count > 3)
        for part in parts {
            #expect(part.text.utf8.count <= 120)
            #expect(!FenceOracle.spans(part.text).endsOpen, "part renders with an open fence: \(part.text)")
        }
        #expect(parts.dropFirst().contains { $0.addedPrefix == "```swift\n" })
        #expect(parts.contains { $0.addedSuffix == "```" })
        #expect(TextSplitter.rejoin(parts) == text)
    }

    @Test func neverSplitsAGraphemeInAnyUnit() throws {
        let family = "👨‍👩‍👧‍👦"  // 7 scalars, 25 UTF-8 bytes, 11 UTF-16 units
        let text = String(repeating: family, count: 10)
        for unit in LengthUnit.allCases {
            let limit = unit.measure(family) * 3 + 1
            let parts = try TextSplitter.split(text, limit: limit, unit: unit)
            #expect(parts.allSatisfy { $0.text.count == 3 || $0.text.count == 1 })
            #expect(parts.map(\.body).joined() == text)
        }
        #expect(throws: BridgebackError.self) { try TextSplitter.split(family + family, limit: 5, unit: .utf8Bytes) }
    }

    @Test func midLineBreakNeverCreatesAFenceLine() throws {
        let text = "see the ~~~ tildes and ``` ticks " + String(repeating: "word ", count: 20)
        for limit in 8...40 {
            let parts = try TextSplitter.split(text, limit: limit, unit: .utf8Bytes)
            for part in parts { #expect(!FenceOracle.spans(part.text).endsOpen, "limit \(limit): \(part.text)") }
        }
    }

    @Test func summarizeKeepsHeadAndReference() throws {
        let text = (1...50).map { "Line \($0) of the report." }.joined(separator: "\n")
        let summary = try Summarizer.summarize(text, limit: 200, unit: .unicodeScalars, reference: "GET /v1/jobs/job_X/result")
        #expect(summary.summarized)
        #expect(summary.text.unicodeScalars.count <= 200)
        #expect(summary.text.hasPrefix("Line 1 of the report.\n"))
        #expect(summary.text.hasSuffix("GET /v1/jobs/job_X/result)"))
        #expect(
            try Summarizer.summarize("short", limit: 200, unit: .utf8Bytes, reference: "r")
                == Summarizer.Summary(text: "short", summarized: false))
        #expect(throws: BridgebackError.self) { try Summarizer.summarize(text, limit: 20, unit: .utf8Bytes, reference: "a long reference") }
    }

    @Test func summarizeClosesAnOpenFence() throws {
        let text = "```\n" + (1...100).map { "line \($0)" }.joined(separator: "\n") + "\n```\n"
        let summary = try Summarizer.summarize(text, limit: 150, unit: .utf8Bytes, reference: "ref")
        #expect(summary.text.utf8.count <= 150)
        #expect(!FenceOracle.spans(summary.text).endsOpen)
    }

    @Test func twentyThousandCharactersToATwoThousandSurface() throws {
        var rng = SeededGenerator(seed: 2000)
        var text = ""
        while text.unicodeScalars.count < 20_000 {
            if Bool.random(using: &rng) {
                text +=
                    "```\n" + (0..<Int.random(in: 3...40, using: &rng)).map { "code line \($0) 🚀" }.joined(separator: "\n") + "\n```\n\n"
            } else {
                text +=
                    (0..<Int.random(in: 5...60, using: &rng)).map { _ in ["alpha", "beta", "数据", "résumé"].randomElement(using: &rng)! }
                    .joined(separator: " ") + "\n\n"
            }
        }
        let parts = try TextSplitter.split(text, limit: 2000, unit: .unicodeScalars)
        #expect(parts.count >= 10)
        #expect(parts.allSatisfy { $0.text.unicodeScalars.count <= 2000 })
        #expect(parts.allSatisfy { $0.addedPrefix.isEmpty })  // every fence here fits, so none is split
        #expect(TextSplitter.rejoin(parts) == text)
    }

    @Test func stripWorksOnScalarsNotGraphemes() {
        #expect(TextSplitter.strip("```\nabc\u{301}```", prefix: "```\n", suffix: "```") == "abc\u{301}")
        #expect(TextSplitter.strip("plain", prefix: "", suffix: "") == "plain")
    }
}
