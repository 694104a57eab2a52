/// A conservative shortcut that skips a cue's regex when the request cannot match it.
///
/// ICU spends microseconds per pattern even on a miss; with ~70 cues that dominates a
/// decision. Most cues start with an alternation of literal words (`\b(?:verify|audit|…)`,
/// `{{clause}}(?:…)`), so any match must contain one of those words' first 2–3 letters.
/// The engine indexes every 2- and 3-letter run of the request once (a bitset) and runs
/// only the cues whose literals occur. Patterns of any other shape always run, and a
/// request with non-ASCII text runs every cue (case folding could map it onto ASCII
/// letters), so the filter never changes a decision, only its cost.
struct CuePrefilter: Sendable, Hashable {
    static let prefixLength = 3

    /// Literals that may occur anywhere (2–3 letters), as `Grams.code`s.
    let anywhere: [Int]
    /// Literals proven to start a word (after `\\b` or `^`; 2–4 letters), as `Grams.wordCode`s.
    let wordStarts: [Int]

    /// Derives a prefilter from a pattern as written in the policy (before macro
    /// expansion), or nil when the pattern's shape does not allow a safe one.
    static func derive(from pattern: String) -> CuePrefilter? {
        guard let top = splitTopLevel(Substring(pattern)) else { return nil }
        var literals: Set<Literal> = []
        for alternative in top {
            guard let found = leadingLiterals(of: alternative, atWordStart: false) else { return nil }
            literals.formUnion(found)
        }
        guard !literals.isEmpty else { return nil }
        return CuePrefilter(
            anywhere: literals.filter { !$0.atWordStart }.map { Grams.code(Array($0.text.utf8.prefix(3))) }.sorted(),
            wordStarts: literals.filter(\.atWordStart).map { Grams.wordCode(Array($0.text.utf8)) }.sorted())
    }

    private struct Literal: Hashable {
        var text: String
        var atWordStart: Bool
    }

    /// The literals one of which any match of `alternative` must contain, or nil if the
    /// alternative does not start with a literal. `atWordStart` is inherited from an
    /// enclosing `\\b` or `^`; a macro opener makes it unknown (false).
    private static func leadingLiterals(of alternative: Substring, atWordStart inherited: Bool) -> Set<Literal>? {
        var rest = alternative
        var atWordStart = inherited
        while true {
            if rest.hasPrefix("\\b") {
                rest = rest.dropFirst(2)
                atWordStart = true
            } else if rest.hasPrefix("^") {
                rest = rest.dropFirst()
                atWordStart = true
            } else if rest.hasPrefix("{{"), let close = rest.range(of: "}}") {
                rest = rest[close.upperBound...]
                atWordStart = false
            } else {
                break
            }
        }
        if rest.hasPrefix("(?:") {
            guard let (body, after) = group(rest) else { return nil }
            if let q = after.first, q == "?" || q == "*" || q == "{" { return nil }
            guard let parts = splitTopLevel(body) else { return nil }
            var out: Set<Literal> = []
            for part in parts {
                guard let nested = leadingLiterals(of: part, atWordStart: atWordStart) else { return nil }
                out.formUnion(nested)
            }
            return out
        }
        let limit = atWordStart ? 4 : prefixLength
        var literal = ""
        for ch in rest {
            guard let ascii = ch.asciiValue, (ascii | 0x20) >= 97, (ascii | 0x20) <= 122 else { break }
            literal.append(Character(UnicodeScalar(ascii | 0x20)))
            if literal.count == limit { break }
        }
        // A quantifier right after the literal could make its last letter optional.
        let next = rest.dropFirst(literal.count).first
        if !literal.isEmpty, next == "?" || next == "*" || next == "{" { literal.removeLast() }
        return literal.count >= 2 ? [Literal(text: literal, atWordStart: atWordStart)] : nil
    }

    /// Walks a pattern's structural characters — those outside escapes and character classes —
    /// with the group depth after each one; `visit` returns false to stop.
    private static func walkStructure(_ s: Substring, _ visit: (Substring.Index, Character, Int) -> Bool) {
        var depth = 0
        var escaped = false
        var inClass = false
        var index = s.startIndex
        while index < s.endIndex {
            let ch = s[index]
            if escaped {
                escaped = false
            } else if ch == "\\" {
                escaped = true
            } else if inClass {
                if ch == "]" { inClass = false }
            } else if ch == "[" {
                inClass = true
            } else {
                if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
                if !visit(index, ch, depth) { return }
            }
            index = s.index(after: index)
        }
    }

    /// Splits `(?:body)rest` into body and rest, honouring escapes, classes and nesting.
    private static func group(_ s: Substring) -> (Substring, Substring)? {
        let bodyStart = s.index(s.startIndex, offsetBy: 3)
        var result: (Substring, Substring)?
        walkStructure(s) { index, ch, depth in
            guard ch == ")" && depth == 0 else { return true }
            result = (s[bodyStart..<index], s[s.index(after: index)...])
            return false
        }
        return result
    }

    /// Splits on `|` outside groups and classes; nil if an alternative is empty.
    static func splitTopLevel(_ body: Substring) -> [Substring]? {
        var parts: [Substring] = []
        var start = body.startIndex
        walkStructure(body) { index, ch, depth in
            if ch == "|" && depth == 0 {
                parts.append(body[start..<index])
                start = body.index(after: index)
            }
            return true
        }
        parts.append(body[start...])
        return parts.contains(where: \.isEmpty) ? nil : parts
    }

    func allows(_ grams: Grams) -> Bool {
        guard grams.isUsable else { return true }
        for code in anywhere where grams.contains(code) { return true }
        for code in wordStarts where grams.startsWord(code) { return true }
        return false
    }
}

/// Every run of 2 and 3 ASCII letters in a text (lowercased), as a bitset.
struct Grams {
    private var bits: [UInt64]
    /// The first 2, 3 and 4 letters of every word, as `wordCode`s: an open-addressing table
    /// (0 = empty; codes are never 0), cheaper per request than a `Set`.
    private var wordPrefixes = [Int](repeating: 0, count: 256)
    private var wordPrefixCount = 0
    /// False when the text has non-ASCII bytes: then every cue runs.
    private(set) var isUsable = true

    static let size = 26 * 26 + 26 * 26 * 26

    static func code(_ letters: [UInt8]) -> Int {
        let a = Int(letters[0] - 97), b = Int(letters[1] - 97)
        if letters.count == 2 { return a * 26 + b }
        return 676 + (a * 26 + b) * 26 + Int(letters[2] - 97)
    }

    /// Up to four letters packed base 27 (so prefixes of different lengths differ).
    static func wordCode(_ letters: [UInt8]) -> Int {
        letters.prefix(4).reduce(0) { $0 * 27 + Int($1 - 96) }
    }

    init(_ text: String) {
        self.init(bytes: text.utf8)
    }

    init<Bytes: Sequence<UInt8>>(bytes text: Bytes) {
        bits = Array(repeating: 0, count: (Self.size + 63) / 64)
        isUsable = Self.scan(text, gram: { insert($0) }, wordPrefix: { insertPrefix($0) }, other: { _ in })
    }

    /// The one scan both the prefilter and `CueGate` read a text with: `gram` gets the `code` of
    /// every run of 2 and 3 letters anywhere (lowercased), `wordPrefix` the `wordCode` of the first
    /// 2, 3 and 4 letters of each word (a digit or `_` ends a word's letter prefix), and `other` every
    /// byte that is not a letter. False, at once, on a non-ASCII byte.
    @inline(__always) static func scan<Bytes: Sequence<UInt8>>(
        _ text: Bytes, gram: (Int) -> Void, wordPrefix: (Int) -> Void, other: (UInt8) -> Void
    ) -> Bool {
        var p2 = -1, p1 = -1  // previous two letters (0...25), -1 when not a letter
        var inWord = false
        var wordLetters = 0  // leading letters of the current word seen so far (max 4)
        var wordCode = 0
        for byte in text {
            if byte >= 0x80 { return false }
            let lower = byte | 0x20
            let isLetter = lower >= 97 && lower <= 122
            let isWordByte = isLetter || (byte >= 48 && byte <= 57) || byte == 95
            if isWordByte {
                if !inWord {
                    inWord = true
                    wordLetters = 0
                    wordCode = 0
                }
                if wordLetters >= 0 && wordLetters < 4 {
                    if isLetter {
                        wordCode = wordCode &* 27 &+ Int(lower &- 96)
                        wordLetters += 1
                        if wordLetters >= 2 { wordPrefix(wordCode) }
                    } else {
                        wordLetters = -1  // a digit or _ ends the letter prefix
                    }
                }
            } else {
                inWord = false
            }
            guard isLetter else {
                other(byte)
                p2 = -1
                p1 = -1
                continue
            }
            let c = Int(lower &- 97)
            if p1 >= 0 {
                gram(p1 &* 26 &+ c)
                if p2 >= 0 { gram(676 &+ (p2 &* 26 &+ p1) &* 26 &+ c) }
            }
            p2 = p1
            p1 = c
        }
        return true
    }

    private mutating func insert(_ code: Int) {
        bits[code >> 6] |= 1 << UInt64(code & 63)
    }

    private mutating func insertPrefix(_ code: Int) {
        if wordPrefixCount * 2 >= wordPrefixes.count {
            // Grow: rehash into a table twice the size.
            let old = wordPrefixes
            wordPrefixes = [Int](repeating: 0, count: old.count * 2)
            wordPrefixCount = 0
            for c in old where c != 0 { insertPrefix(c) }
        }
        let mask = wordPrefixes.count - 1
        var i = Self.slot(code, mask)
        while wordPrefixes[i] != 0 {
            if wordPrefixes[i] == code { return }
            i = (i + 1) & mask
        }
        wordPrefixes[i] = code
        wordPrefixCount += 1
    }

    /// Where `code` starts its probe in an open-addressing table of `mask + 1` slots.
    @inline(__always) static func slot(_ code: Int, _ mask: Int) -> Int { (code &* 0x9E37_79B1) & mask }

    func startsWord(_ code: Int) -> Bool {
        let mask = wordPrefixes.count - 1
        var i = Self.slot(code, mask)
        while wordPrefixes[i] != 0 {
            if wordPrefixes[i] == code { return true }
            i = (i + 1) & mask
        }
        return false
    }

    func contains(_ code: Int) -> Bool {
        bits[code >> 6] & (1 << UInt64(code & 63)) != 0
    }
}
