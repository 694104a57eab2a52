import Foundation
import Testing

@testable import BridgebackWorker

/// splitmix64: a small seeded generator, so every property run is reproducible from its seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("Progress protocol")
struct ProgressProtocolTests {
    func parse(_ line: String) -> ProgressDirective? { ProgressProtocol.parse(line: Array(line.utf8)) }

    /// Feeds `bytes` in the given chunk sizes (cycled), then finishes; returns output and directives.
    static func run(_ bytes: [UInt8], chunks: [Int] = [Int.max]) -> (output: [UInt8], directives: [ProgressDirective]) {
        var parser = ProgressProtocol()
        var events: [ProgressProtocol.Event] = []
        var offset = 0
        var index = 0
        while offset < bytes.count {
            let size = max(1, min(chunks[index % chunks.count], bytes.count - offset))
            events += parser.feed(bytes[offset..<(offset + size)])
            offset += size
            index += 1
        }
        events += parser.finish()
        var output: [UInt8] = []
        var directives: [ProgressDirective] = []
        for event in events {
            switch event {
            case .output(let chunk): output += chunk
            case .directive(let directive): directives.append(directive)
            }
        }
        return (output, directives)
    }

    @Test func wellFormedLines() {
        #expect(parse("::progress 40 checked 12 of 30 endpoints") == .progress(percent: 40, message: "checked 12 of 30 endpoints"))
        #expect(parse("::progress 12.5%") == .progress(percent: 12.5, message: ""))
        #expect(parse("::progress 100 done\r") == .progress(percent: 100, message: "done"))
        #expect(parse("::step 2/5 dependency check") == .step(number: 2, total: 5, message: "dependency check"))
        #expect(parse("::step 1/1") == .step(number: 1, total: 1, message: ""))
        #expect(parse("::result all 30 answered") == .result("all 30 answered"))
        #expect(parse("::result") == .result(""))
        #expect(parse("::result   indented") == .result("  indented"))
    }

    @Test func malformedLinesAreNotProtocol() {
        for line in [
            "::progress", "::progress 101 too much", "::progress -1 x", "::progress 4O typo", "::progress .5", "::progress 5.",
            "::progress 1.2.3",
            "::progress 1e2", "::progress NaN", "::progress ４０ wide digits", "::step 3/2 backwards", "::step 0/2 zero", "::step 2 x",
            "::step 1/ x", "::step /3", "::step 1/99999999999999999999 overflow", "::step 1/10001 too many", "::step a/b",
            "::Step 1/2 case",
            "::progress\t40 tab", ":: progress 40", ":progress 40", "progress 40", " ::progress 40", "::", "::unknown verb", "",
        ] {
            #expect(parse(line) == nil, "\(line.debugDescription) should be output")
        }
    }

    @Test func messagesAreOneCleanBoundedLine() {
        #expect(parse("::step 1/2 \u{1B}[31mred\u{07}") == .step(number: 1, total: 2, message: "[31mred"))
        guard case .progress(_, let message)? = parse("::progress 5 " + String(repeating: "x", count: 1000)) else {
            Issue.record("not parsed")
            return
        }
        #expect(message.count == ProgressProtocol.maxMessageCharacters)
        #expect(message.hasSuffix("…"))
    }

    @Test func streamKeepsOutputAndTakesOutDirectives() {
        let text = "starting\n::step 1/2 fetch\nplain :: line\n::progress 50 half\n::bogus\n::result the answer\ntail without newline"
        let (output, directives) = Self.run(Array(text.utf8))
        #expect(String(decoding: output, as: UTF8.self) == "starting\nplain :: line\n::bogus\ntail without newline")
        #expect(
            directives == [.step(number: 1, total: 2, message: "fetch"), .progress(percent: 50, message: "half"), .result("the answer")])
    }

    @Test func lastLineWithoutNewlineStillCounts() {
        #expect(Self.run(Array("out\n::progress 7 last".utf8)).directives == [.progress(percent: 7, message: "last")])
        #expect(Self.run(Array("::bogus".utf8)).output == Array("::bogus".utf8))
        #expect(Self.run(Array(":".utf8)).output == Array(":".utf8))
    }

    @Test func overlongProtocolLineIsOutputAndMemoryStaysBounded() {
        let long = "::progress 5 " + String(repeating: "y", count: ProgressProtocol.maxLineBytes * 3) + "\n::step 1/1 after\n"
        let (output, directives) = Self.run(Array(long.utf8), chunks: [7])
        #expect(output.count == long.utf8.count - "::step 1/1 after\n".utf8.count)
        #expect(directives == [.step(number: 1, total: 1, message: "after")])
    }

    // MARK: Properties (seeded, reproducible)

    static let fragments: [String] = [
        "::progress 40 checked 12 of 30", "::step 2/5 dependency check", "::result line", "::progress 101", "::step 3/2", "::",
        ":", "::progress", "plain", "", " ::step 1/2", "::result", "::progress 12.5% x", "ünïcödé", "::step 1/1",
    ]

    /// Random bytes, random line breaks, random chunking: never a crash, and every input byte is
    /// accounted for — either output, or part of a line that parsed as a directive.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func fuzzedStreamsConserveBytesAndIgnoreChunking(seed: UInt64) {
        var rng = SplitMix(seed: seed)
        for _ in 0..<250 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0..<40, using: &rng) {
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes += (0..<Int.random(in: 0..<12, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                case 1: bytes += Array(Self.fragments.randomElement(using: &rng)!.utf8)
                case 2: bytes += Array("::".utf8)
                default: bytes.append(UInt8(ascii: "\n"))
                }
            }
            let whole = Self.run(bytes)
            let chunked = Self.run(bytes, chunks: (0..<5).map { _ in Int.random(in: 1...9, using: &rng) })
            #expect(whole.output == chunked.output, "seed \(seed): chunking changed the output")
            #expect(whole.directives == chunked.directives, "seed \(seed): chunking changed the directives")
            // Reconstruct: split the input into lines; a line is a directive iff it parses.
            var expectedOutput: [UInt8] = []
            var expectedDirectives: [ProgressDirective] = []
            let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            for (index, line) in lines.enumerated() {
                let last = index == lines.count - 1
                if let directive = ProgressProtocol.parse(line: Array(line)) {
                    expectedDirectives.append(directive)
                } else {
                    expectedOutput += line
                    if !last { expectedOutput.append(UInt8(ascii: "\n")) }
                }
            }
            #expect(whole.output == expectedOutput, "seed \(seed): \(bytes)")
            #expect(whole.directives == expectedDirectives, "seed \(seed): \(bytes)")
        }
    }

    /// Generated valid lines among ordinary ones: each comes back as the directive it encodes.
    @Test func generatedDirectivesRoundTrip() {
        var rng = SplitMix(seed: 42)
        for _ in 0..<2000 {
            let total = Int.random(in: 1...ProgressProtocol.maxSteps, using: &rng)
            let number = Int.random(in: 1...total, using: &rng)
            let percent = Double(Int.random(in: 0...1000, using: &rng)) / 10
            let word = String((0..<Int.random(in: 0..<20, using: &rng)).map { _ in "abc xyz-".randomElement(using: &rng)! })
            let message = word.trimmingCharacters(in: .whitespaces)
            let text = "noise\n::step \(number)/\(total) \(word)\nmore\n::progress \(percent) \(word)\n"
            let (output, directives) = Self.run(Array(text.utf8), chunks: [Int.random(in: 1...20, using: &rng)])
            #expect(String(decoding: output, as: UTF8.self) == "noise\nmore\n")
            #expect(directives == [.step(number: number, total: total, message: message), .progress(percent: percent, message: message)])
        }
    }
}
