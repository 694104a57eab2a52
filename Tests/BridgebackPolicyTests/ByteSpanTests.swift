import Foundation
import Testing

@testable import BridgebackPolicy

/// The matcher's shortcuts against ICU pattern by pattern: a repeated byte set runs as one span
/// (greedy: most bytes first; lazy: fewest first; bounded or not) and a search that no byte pair
/// of the text can start ends without scanning. Each must find the same span and group 1 as
/// `NSRegularExpression`, including where the rest of the pattern forces backtracking into the span.
@Suite("Byte matcher spans and start checks equal ICU")
struct ByteSpanTests {
    static let patterns = [
        "a[bc]*c", "a[bc]*?c", "a[bc]+c", "a[bc]+?c", "x\\s{0,3}y", "x\\s{1,3}?y", "x\\s{2}y", "(?:[\\w'-]+\\s+){0,3}?done\\b",
        "\\bfrom\\s+[\\w#./-]+(?:\\s+[\\w#./-]+){0,3},\\s+[\\w#./-]+", "^(?!please\\s)[^?]*(\\?)(?=[\"')\\]]*(?:\\s|$))",
        "\\b(?:every|each)\\s+(?:\\d+\\s+)?(?:minutes?|hours?)\\b", "\\bif\\b[^.;?]{0,40}?\\broll\\s+(?:it\\s+)?back\\b",
        "(\\d+)\\s*%", "\"[^\"]{1,20}\"", ",\\s*(?:and\\s+)?then\\b", "b{0,2}?bc", "[a-c]{2,4}c", "q[^u]",
    ]
    static let texts = [
        "", "a", "ac", "abcbcbc", "abbbbbd", "abcbcc and acc", "x  y", "x    y", "xy", "x y x  y", "one two three done",
        "one two three four five done", "from a b c, d and e", "from the wiki, jira, and slack", "is it ok? yes", "please? no",
        "what is this\"? \"x\" then", "every 5 minutes and each hour", "if errors climb roll it back", "if it fails we roll back",
        "50 % of 100%", "say \"hi there\" and \"\"", "done, then go", "done,then", "bbbc", "bbc", "abcabcc", "qatar q", "iraq",
    ]

    /// Alternations some of whose alternatives start with `^` (dispatched on the next byte past
    /// position 0), and word-start searches over texts with more than 64 words (the word-start
    /// index spans several 64-bit chunks).
    static let allPatterns = [
        "(?:^|\\n|[.!?;:]\\s+|,\\s*|\\b(?:and|then|also)\\s+|\\(\\s*)(?:(?:and|then|also|now)\\s+)?",
        "(?:^|,\\s*|\\band\\s+)(?:ship|check|w1\\d)\\b", "(?:^|x)y", "(?:^a|b)c", "\\b(?:w\\d*7|ship|word)\\b",
        "\\b(?:then|thence)\\s+\\w+", "\\bw(?:6[3-5]|12[7-9]|\\d)\\b",
    ]
    static var longTexts: [String] {
        let words = (0..<150).map { "w\($0)" }
        return [
            words.joined(separator: " "), words.joined(separator: ", "), "ship, " + words.joined(separator: " and ") + " then ship",
            (words + ["(and then check it)", "word."]).joined(separator: " "), "yc xy ac bc", "a, check. then w17 and w19 and ship",
        ]
    }

    @Test("every match in order (findAll) as ICU enumerates them, long texts included")
    func allMatchesAsICU() throws {
        for pattern in Self.allPatterns + Self.patterns {
            let program = try #require(ByteRegex.cached(pattern), "\(pattern) should compile for the byte engine")
            let icu = try NSRegularExpression(pattern: pattern)
            for text in Self.texts + Self.longTexts {
                let expected = icu.matches(in: text, range: NSRange(location: 0, length: (text as NSString).length)).map {
                    $0.range.location..<($0.range.location + $0.range.length)
                }
                let got = Array(text.utf8).withUnsafeBufferPointer { t -> [Range<Int>]? in
                    var scratch = ByteRegex.Scratch(budget: 1_000_000)
                    return program.findAll(in: t, limit: Int.max, &scratch)?.map { $0.start..<$0.end }
                }
                #expect(got == expected, "\(pattern) on \(text.debugDescription)")
            }
        }
    }

    @Test("every pattern on every text: the same first match and group 1 as ICU")
    func sameAsICU() throws {
        for pattern in Self.patterns {
            let program = try #require(ByteRegex.cached(pattern), "\(pattern) should compile for the byte engine")
            let icu = try NSRegularExpression(pattern: pattern)
            for text in Self.texts {
                let expected = icu.firstMatch(in: text, range: NSRange(location: 0, length: (text as NSString).length))
                let bytes = Array(text.utf8)
                let got = bytes.withUnsafeBufferPointer { t -> ByteRegex.Outcome in
                    var scratch = ByteRegex.Scratch(budget: 1_000_000)
                    return program.find(in: t, from: 0, &scratch)
                }
                switch got {
                case .outOfBudget: Issue.record("\(pattern) ran out of budget on \(text.debugDescription)")
                case .none: #expect(expected == nil, "\(pattern) on \(text.debugDescription): ICU matched, the byte engine did not")
                case .matched(let m):
                    guard let expected else {
                        Issue.record("\(pattern) on \(text.debugDescription): the byte engine matched \(m.start)..<\(m.end), ICU did not")
                        continue
                    }
                    #expect(
                        m.start == expected.range.location && m.end == expected.range.location + expected.range.length,
                        "\(pattern) on \(text.debugDescription)")
                    if expected.numberOfRanges > 1, expected.range(at: 1).location != NSNotFound {
                        let g = expected.range(at: 1)
                        #expect(m.group1 == g.location..<(g.location + g.length), "\(pattern) group 1 on \(text.debugDescription)")
                    } else {
                        #expect(m.group1 == nil, "\(pattern) group 1 on \(text.debugDescription)")
                    }
                }
            }
        }
    }
}
