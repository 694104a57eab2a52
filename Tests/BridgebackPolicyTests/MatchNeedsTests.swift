import Foundation
import Testing

@testable import BridgebackPolicy

/// `MatchNeeds` may only say what every match contains: wherever ICU finds a match of a
/// pattern, one string of each condition occurs in the matched text. Checked for every cue of the
/// shipped policy on every labelled row and generated request, and for random patterns on random
/// texts; and the conditions derived for a few shapes are pinned.
@Suite("What a match must contain")
struct MatchNeedsTests {
    /// Every ICU match of `regex` in `text` contains a string of each condition; returns how many matches were checked.
    static func check(_ needs: MatchNeeds, _ regex: NSRegularExpression, _ text: String, _ label: String) -> Int {
        let ns = text as NSString
        var checked = 0
        for m in regex.matches(in: text, range: NSRange(location: 0, length: ns.length)) {
            let matched = Array(ns.substring(with: m.range).utf8)
            for condition in needs.conditions {
                let met = condition.contains { s in
                    s.isEmpty
                        || (matched.count >= s.count
                            && (0...(matched.count - s.count)).contains { matched[$0..<($0 + s.count)].elementsEqual(s) })
                }
                #expect(
                    met,
                    "\(label): match \(String(decoding: matched, as: UTF8.self).debugDescription) lacks all of \(condition.map { String(decoding: $0, as: UTF8.self) })"
                )
            }
            checked += 1
        }
        return checked
    }

    @Test("shipped policy: every cue's needs hold in every ICU match on labelled and generated requests")
    func shippedCues() throws {
        let policy = try PolicyDocument.bundledDefault()
        var regexes: [(String, NSRegularExpression, MatchNeeds)] = []
        for cue in policy.families.flatMap(\.cues) where !cue.pattern.hasPrefix("@") {
            var source = cue.pattern
            if let (_, rest) = PolicyEngine.leadingAnchor(cue.pattern, macros: policy.macros) { source = rest }
            guard case .success(let expanded) = RegexCompiler.expand(source, macros: policy.macros) else { continue }
            let program = try #require(ByteRegex.cached(RegexCompiler.lowercasePattern(expanded)))
            regexes.append((cue.id, try RegexCompiler.compile(expanded), program.needs))
        }
        #expect(regexes.count >= 90)
        // Every labelled row and 300 generated requests (ICU on every cue is the slow part: ≈ 100 cues a text).
        let rows = ByteEngineTests.labelledRows()
        let texts = (rows.map(\.request.text) + ByteEngineTests.generated(from: rows, count: 300).map(\.text))
            .map { PolicyEngine.normalize($0).lowercased() }
        var checked = 0
        for text in texts {
            for (id, regex, needs) in regexes where !needs.conditions.isEmpty {
                checked += Self.check(needs, regex, text, "\(id) on \(text.debugDescription)")
            }
        }
        #expect(checked >= 2_000, "only \(checked) matches checked")
    }

    @Test("random patterns on random texts: the needs hold in every ICU match")
    func randomPatterns() throws {
        var g = ByteEngineTests.Generator(state: 7)
        let words = ["cat", "dog", "ab", "a", "x", "is", "the", "?", ",", "%", "12", "cats"]
        func atom(_ depth: Int) -> String {
            switch g.below(depth > 2 ? 4 : 9) {
            case 0, 1: return NSRegularExpression.escapedPattern(for: g.pick(words))
            case 2: return g.pick(["\\s", "\\w", "[ab]", "[^?]", "\\d", ".", "[c,]", "\\b", "^", "$"])
            case 3: return g.pick(words)
            case 4: return "(?:" + alternation(depth + 1) + ")"
            case 5: return "(" + alternation(depth + 1) + ")"
            case 6: return "(?=" + alternation(depth + 1) + ")"
            case 7: return "(?!" + alternation(depth + 1) + ")"
            default: return "(?:" + alternation(depth + 1) + ")" + g.pick(["?", "*", "+", "{1,2}", "{0,3}?", "{2}"])
            }
        }
        func sequence(_ depth: Int) -> String {
            var s = ""
            for _ in 0..<(1 + g.below(4)) {
                let a = atom(depth)
                let quantifiable =
                    !a.hasPrefix("(?=") && !a.hasPrefix("(?!") && a != "\\b" && a != "^" && a != "$" && !a.hasSuffix("?")
                    && !a.hasSuffix("*") && !a.hasSuffix("+") && !a.hasSuffix("}")
                s += a + (quantifiable && g.below(4) == 0 ? g.pick(["?", "+", "*", "??"]) : "")
            }
            return s
        }
        func alternation(_ depth: Int) -> String {
            (0..<(1 + g.below(3))).map { _ in sequence(depth) }.joined(separator: "|")
        }
        var patterns = 0, withNeeds = 0, checked = 0
        // Random patterns often use what the byte engine refuses (empty loops, quantified lookaheads): draw until 300 compile.
        for _ in 0..<4000 where patterns < 300 {
            let pattern = alternation(0)
            guard let program = try? ByteRegex(pattern), let regex = try? NSRegularExpression(pattern: pattern) else { continue }
            patterns += 1
            if !program.needs.conditions.isEmpty { withNeeds += 1 }
            for _ in 0..<40 {
                let text = (0..<g.below(8)).map { _ in g.pick(words + [" ", " ", "  "]) }.joined(separator: g.pick(["", " "]))
                checked += Self.check(program.needs, regex, text, "\(pattern.debugDescription) on \(text.debugDescription)")
            }
        }
        #expect(patterns == 300)
        #expect(withNeeds >= 100, "only \(withNeeds) random patterns had needs")
        #expect(checked >= 2_000)
    }

    @Test("pinned shapes: literals after optional parts, classes and lookaheads")
    func shapes() throws {
        func needs(_ pattern: String) throws -> [[String]] {
            try ByteRegex(pattern).needs.conditions.map { $0.map { String(decoding: $0, as: UTF8.self) } }
        }
        // A question mark after any span: only "?" is needed.
        #expect(try needs("^(?!please\\s)[^?]*(\\?)") == [["?"]])
        // Optional words first; the quantity word further on is the best thing every match holds.
        #expect(try needs("\\b(?:about|over)?\\s*\\d+\\s+(?:hundred|thousand)\\b").first == ["hundred", "thousand"])
        // Alternatives: one condition, a literal from each alternative.
        let alternatives = try needs("\\bwalk\\s+through\\b|\\btry\\s+out\\b")
        #expect(alternatives.count == 1)
        #expect(
            alternatives.first.map {
                Set($0).intersection(["walk", "through"]).count == 1 && Set($0).intersection(["try", "out"]).count == 1
            } == true)
        // Nothing literal to hold on to: no condition (the cue always runs).
        #expect(try needs("\\w+\\s+\\w+").isEmpty)
        // An optional part is never needed on its own: "bar" or "foobar".
        #expect(try needs("(?:foo)?bar") == [["bar", "foobar"]])
    }
}
