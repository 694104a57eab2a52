import Synchronization

/// A small backtracking regex engine over ASCII bytes, for the subset of ICU syntax the
/// policy's cues use; what `PolicyEngine.decide` runs instead of `NSRegularExpression`.
///
/// Why: ICU costs microseconds per call even on a miss, and Foundation re-bridges the Swift
/// string to UTF-16 on every call; with ~90 cues that was ~150 µs a decision. This engine
/// runs on the request's UTF-8 bytes with no bridging and no allocation per attempt.
///
/// Exactness: it implements ICU's (Perl's) leftmost-first, priority-ordered backtracking, so a
/// match is the same span ICU finds — decisions *and* the quoted cue text in reasons are the
/// same (`FastEngineEquivalenceTests` checks every labelled row). It only ever sees ASCII
/// text (the engine keeps ICU for any request with a non-ASCII byte, where `\w`, `\b` and case
/// folding are Unicode), and it refuses at compile time any construct it does not implement
/// (lookbehind, inline flags, `\p{…}`, possessive quantifiers, a loop whose body can match
/// empty); a policy with such a cue runs every request on ICU. A step budget bounds each
/// decision: past it the caller falls back to ICU, so a pathological request costs what it
/// cost before, never a different answer.
final class ByteRegex: Sendable {
    /// A set of bytes (only 0–127 can occur: the text is ASCII).
    struct ByteSet: Sendable, Hashable {
        var lo: UInt64 = 0
        var hi: UInt64 = 0

        @inline(__always) func contains(_ b: UInt8) -> Bool {
            b < 64 ? lo & (1 << UInt64(b)) != 0 : b < 128 ? hi & (1 << UInt64(b - 64)) != 0 : false
        }
        mutating func insert(_ b: UInt8) {
            if b < 64 { lo |= 1 << UInt64(b) } else if b < 128 { hi |= 1 << UInt64(b - 64) }
        }
        mutating func insert(_ range: ClosedRange<UInt8>) { for b in range { insert(b) } }
        func union(_ b: UInt8) -> ByteSet {
            var s = self
            s.insert(b)
            return s
        }
        mutating func formUnion(_ o: ByteSet) {
            lo |= o.lo
            hi |= o.hi
        }
        /// The complement within ASCII.
        var inverted: ByteSet { ByteSet(lo: ~lo, hi: ~hi) }
        var isEmpty: Bool { lo == 0 && hi == 0 }
        @inline(__always) func intersects(_ o: ByteSet) -> Bool { (lo & o.lo) | (hi & o.hi) != 0 }

        static let word: ByteSet = {
            var s = ByteSet()
            s.insert(UInt8(ascii: "a")...UInt8(ascii: "z"))
            s.insert(UInt8(ascii: "A")...UInt8(ascii: "Z"))
            s.insert(UInt8(ascii: "0")...UInt8(ascii: "9"))
            s.insert(UInt8(ascii: "_"))
            return s
        }()
        static let digit: ByteSet = {
            var s = ByteSet()
            s.insert(UInt8(ascii: "0")...UInt8(ascii: "9"))
            return s
        }()
        /// ICU `\s` on ASCII: tab, newline, vertical tab, form feed, return and space.
        static let space: ByteSet = {
            var s = ByteSet()
            s.insert(0x09...0x0D)
            s.insert(0x20)
            return s
        }()
        /// ICU `.` without DOTALL: anything but a line terminator.
        static let dot: ByteSet = {
            var s = ByteSet().inverted
            s.lo &= ~((1 << 0x0A) | (1 << 0x0B) | (1 << 0x0C) | (1 << 0x0D))
            return s
        }()
    }

    enum Assertion: Sendable {
        case wordBoundary, notWordBoundary, textStart, textEnd
    }

    indirect enum Node: Sendable {
        case empty
        case byte(UInt8)
        case set(ByteSet)
        /// A literal that cannot occur in ASCII text (a non-ASCII character in the pattern).
        case never
        case concat([Node])
        case alt([Node])
        case capture(Node, Int)
        case repetition(Node, min: Int, max: Int?, greedy: Bool)
        case assertion(Assertion)
        case lookahead(Node, negative: Bool)
    }

    enum Inst: Sendable {
        case byte(UInt8)
        case set(ByteSet)
        case split(Int, Int)
        case jump(Int)
        case save(Int)
        case assert(Assertion)
        case look(Int, negative: Bool)
        /// Jump by the next byte: `dispatch[offset + byte]` is the target (-1: fail).
        case dispatch(Int)
        case fail
        /// At position 0 jump to the target, elsewhere go on: an alternation some of whose
        /// alternatives start with `^` dispatches on the next byte everywhere but at 0.
        case atStart(Int)
        case match
        /// A repeated byte set (`[\\w'-]*`, `\\s{0,3}?`): up to `max` bytes (nil: no limit) of the
        /// set, the rest of the program tried after each count in the same order as the split
        /// loop it replaces (most bytes first when greedy, fewest first when lazy), with one
        /// backtrack frame instead of one per byte.
        case span(ByteSet, max: Int?, greedy: Bool)
    }

    struct Unsupported: Error, CustomStringConvertible {
        let description: String
    }

    let insts: [Inst]
    /// `insts` as the matcher runs them, and the byte sets they test.
    let ops: [Op]
    let sets: [ByteSet]
    /// Jump tables of `.dispatch` instructions, 128 entries each.
    let dispatch: [Int32]
    /// Capturing groups in the pattern (group 1 is what a cue shows, when present).
    let captureGroups: Int
    /// Bytes a match can start with; meaningful only when `nullable` is false.
    let first: ByteSet
    /// The pattern can match the empty string (so every position, including the end, is tried).
    let nullable: Bool
    /// Every alternative starts with `^`: only position 0 can match.
    let startAnchored: Bool
    /// Some alternative starts with `^`: position 0 is always tried.
    let zeroStart: Bool
    /// Every alternative opens with `\b` and then a word byte: a match can only start
    /// where a word starts, so only those positions are tried.
    let wordStartOnly: Bool
    /// For each first byte of a match, the bytes that can follow it (all of them when a match
    /// can end after one byte): a word start whose two bytes no match can open is skipped
    /// without running the program.
    let second: [ByteSet]
    /// The bytes in `first`, for `cannotStart`.
    let firstBytes: [Int]
    /// Literals any match contains, for the cue gate.
    let needs: MatchNeeds

    /// The first two bytes the program can consume, from its instruction graph: every path
    /// through splits, jumps, saves and assertions (assumed true, so the sets only widen) to
    /// a first consuming instruction, and from there to a second one.
    static func secondBytes(_ insts: [Inst], _ tables: [Int32]) -> [ByteSet] {
        let all = ByteSet().inverted
        // The consuming steps reachable from `pc` without consuming: (bytes, next pc), or nil
        // when `.match` is reachable (a match may end here).
        func consumers(_ start: Int, _ constraint: ByteSet) -> [(ByteSet, Int)]? {
            var out: [(ByteSet, Int)] = []
            var seen = Set<Int>()
            var matchReachable = false
            func walk(_ pc: Int, _ c: ByteSet) {
                guard !seen.contains(pc) || c != all else { return }
                if c == all { seen.insert(pc) }
                switch insts[pc] {
                case .byte(let b):
                    if c.contains(b) {
                        var one = ByteSet()
                        one.insert(b)
                        out.append((one, pc + 1))
                    }
                case .set(let set): out.append((ByteSet(lo: set.lo & c.lo, hi: set.hi & c.hi), pc + 1))
                case .split(let a, let b):
                    walk(a, c)
                    walk(b, c)
                case .jump(let a): walk(a, c)
                case .save, .assert, .look: walk(pc + 1, c)
                case .dispatch(let offset):
                    var targets: [Int32: ByteSet] = [:]
                    for byte in 0..<128 where tables[offset + byte] >= 0 && c.contains(UInt8(byte)) {
                        targets[tables[offset + byte], default: ByteSet()].insert(UInt8(byte))
                    }
                    for (target, bytes) in targets.sorted(by: { $0.key < $1.key }) { walk(Int(target), bytes) }
                case .fail: break
                case .atStart(let a):
                    walk(a, c)
                    walk(pc + 1, c)
                case .match: matchReachable = true
                case .span(let set, _, _):
                    // One byte of the set (then possibly more: the span again), or none.
                    out.append((ByteSet(lo: set.lo & c.lo, hi: set.hi & c.hi), pc))
                    walk(pc + 1, c)
                }
            }
            walk(start, constraint)
            return matchReachable ? nil : out
        }
        var second = [ByteSet](repeating: ByteSet(), count: 128)
        guard let firsts = consumers(0, all) else { return [ByteSet](repeating: all, count: 128) }
        for (bytes, next) in firsts {
            let follow = consumers(next, all)
            for b in 0..<128 where bytes.contains(UInt8(b)) {
                if let follow {
                    for (s, _) in follow { second[b].formUnion(s) }
                } else {
                    second[b] = all
                }
            }
        }
        return second
    }

    static func startsAtWord(_ node: Node) -> Bool {
        switch node {
        case .capture(let n, _): return startsAtWord(n)
        case .alt(let alts): return !alts.isEmpty && alts.allSatisfy(startsAtWord)
        case .concat(let parts):
            guard case .assertion(.wordBoundary)? = parts.first else { return false }
            let (set, nullable, zero) = lead(.concat(Array(parts.dropFirst())))
            return !nullable && !zero && set.lo & ~ByteSet.word.lo == 0 && set.hi & ~ByteSet.word.hi == 0
        default: return false
        }
    }

    /// Compiles a pattern as the policy engine hands it to ICU (macros expanded, lowercased).
    init(_ pattern: String) throws(Unsupported) {
        var parser = Parser(bytes: Array(pattern.utf8))
        let node = try parser.parseAlternation()
        guard parser.index == parser.bytes.count else { throw Unsupported(description: "unbalanced ')'") }
        var compiler = Compiler()
        compiler.emit(node)
        compiler.insts.append(.match)
        insts = compiler.insts
        (ops, sets) = Op.lower(compiler.insts)
        dispatch = compiler.tables
        captureGroups = parser.captures
        let (f, n, z) = Self.lead(node)
        first = f
        nullable = n
        zeroStart = z
        startAnchored = Self.anchored(node)
        wordStartOnly = !n && !z && Self.startsAtWord(node)
        second = Self.secondBytes(compiler.insts, compiler.tables)
        firstBytes = (0..<128).filter { f.contains(UInt8($0)) }
        needs = MatchNeeds(node)
    }

    // MARK: - Analysis

    /// The bytes a match of `node` can start with, whether it can match empty, and whether
    /// a `^` before its first byte lets it match at position 0 whatever the byte there.
    static func firstSet(_ node: Node) -> (ByteSet, Bool) {
        let (set, nullable, _) = lead(node)
        return (set, nullable)
    }

    static func lead(_ node: Node) -> (set: ByteSet, nullable: Bool, zeroStart: Bool) {
        switch node {
        case .assertion(.textStart): return (ByteSet(), false, true)
        case .empty, .assertion, .lookahead: return (ByteSet(), true, false)
        case .byte(let b):
            var s = ByteSet()
            s.insert(b)
            return (s, false, false)
        case .set(let s): return (s, false, false)
        case .never: return (ByteSet(), false, false)
        case .capture(let n, _): return lead(n)
        case .repetition(let n, let min, _, _):
            let (f, nullable, zero) = lead(n)
            return (f, nullable || min == 0, zero)
        case .concat(let parts):
            var out = ByteSet()
            var zero = false
            for p in parts {
                let (f, nullable, z) = lead(p)
                out.formUnion(f)
                zero = zero || z
                if !nullable { return (out, false, zero) }
            }
            return (out, true, zero)
        case .alt(let alts):
            var out = ByteSet()
            var nullable = false
            var zero = false
            for a in alts {
                let (f, n, z) = lead(a)
                out.formUnion(f)
                nullable = nullable || n
                zero = zero || z
            }
            return (out, nullable, zero)
        }
    }

    static func anchored(_ node: Node) -> Bool {
        switch node {
        case .assertion(.textStart): return true
        case .capture(let n, _): return anchored(n)
        case .concat(let parts): return parts.first.map(anchored) ?? false
        case .alt(let alts): return !alts.isEmpty && alts.allSatisfy(anchored)
        default: return false
        }
    }

    /// Whether `node` can match without consuming a byte. Unlike `lead`'s `nullable`, a `^` counts
    /// as empty: `(?:^x?)*` would otherwise pass as a loop that always consumes and spin at position 0.
    static func canBeEmpty(_ node: Node) -> Bool {
        switch node {
        case .empty, .assertion, .lookahead: return true
        case .byte, .set, .never: return false
        case .capture(let n, _): return canBeEmpty(n)
        case .repetition(let n, let min, _, _): return min == 0 || canBeEmpty(n)
        case .concat(let parts): return parts.allSatisfy(canBeEmpty)
        case .alt(let alts): return alts.contains(where: canBeEmpty)
        }
    }

    // MARK: - Parser

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        var captures = 0

        var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func parseAlternation() throws(Unsupported) -> Node {
            var alts: [Node] = [try parseConcat()]
            while peek == UInt8(ascii: "|") {
                index += 1
                alts.append(try parseConcat())
            }
            return alts.count == 1 ? alts[0] : .alt(alts)
        }

        mutating func parseConcat() throws(Unsupported) -> Node {
            var parts: [Node] = []
            while let c = peek, c != UInt8(ascii: "|"), c != UInt8(ascii: ")") {
                var atom = try parseAtom()
                atom = try parseQuantifiers(atom)
                parts.append(atom)
            }
            return parts.count == 1 ? parts[0] : parts.isEmpty ? .empty : .concat(parts)
        }

        mutating func parseQuantifiers(_ atom: Node) throws(Unsupported) -> Node {
            var node = atom
            while let c = peek {
                var min = 0
                var max: Int?
                if c == UInt8(ascii: "?") {
                    max = 1
                    index += 1
                } else if c == UInt8(ascii: "*") {
                    index += 1
                } else if c == UInt8(ascii: "+") {
                    min = 1
                    index += 1
                } else if c == UInt8(ascii: "{") {
                    guard let (lo, hi) = parseBraces() else { throw Unsupported(description: "'{' that is not a {m,n} quantifier") }
                    min = lo
                    max = hi
                } else {
                    break
                }
                var greedy = true
                if peek == UInt8(ascii: "?") {
                    greedy = false
                    index += 1
                } else if peek == UInt8(ascii: "+") {
                    throw Unsupported(description: "possessive quantifier")
                }
                if case .assertion = node { throw Unsupported(description: "quantified assertion") }
                if case .lookahead = node { throw Unsupported(description: "quantified lookahead") }
                if (max == nil || max! > 1) && ByteRegex.canBeEmpty(node) {
                    throw Unsupported(description: "a loop whose body can match empty")
                }
                if let max, max > 1000 || max < min { throw Unsupported(description: "repeat bound") }
                node = .repetition(node, min: min, max: max, greedy: greedy)
            }
            return node
        }

        /// `{m}`, `{m,}`, `{m,n}` at `index`; advances past it, or returns nil.
        mutating func parseBraces() -> (Int, Int?)? {
            var i = index + 1
            func number() -> Int? {
                var n = 0
                var digits = 0
                while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57, digits < 5 {
                    n = n * 10 + Int(bytes[i] - 48)
                    i += 1
                    digits += 1
                }
                return digits == 0 ? nil : n
            }
            guard let lo = number() else { return nil }
            var hi: Int? = lo
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") {
                i += 1
                hi = number()
            }
            guard i < bytes.count, bytes[i] == UInt8(ascii: "}") else { return nil }
            index = i + 1
            return (lo, hi)
        }

        mutating func parseAtom() throws(Unsupported) -> Node {
            let c = bytes[index]
            switch c {
            case UInt8(ascii: "("):
                index += 1
                var capture: Int?
                var look: Bool?
                if peek == UInt8(ascii: "?") {
                    let kind = index + 1 < bytes.count ? bytes[index + 1] : 0
                    switch kind {
                    case UInt8(ascii: ":"): break
                    case UInt8(ascii: "="): look = false
                    case UInt8(ascii: "!"): look = true
                    default: throw Unsupported(description: "group kind (?\(Character(UnicodeScalar(kind)))")
                    }
                    index += 2
                } else {
                    captures += 1
                    capture = captures
                }
                let body = try parseAlternation()
                guard peek == UInt8(ascii: ")") else { throw Unsupported(description: "unclosed group") }
                index += 1
                if let look { return .lookahead(body, negative: look) }
                if let capture { return .capture(body, capture) }
                return body
            case UInt8(ascii: "["):
                return .set(try parseClass())
            case UInt8(ascii: "\\"):
                return try parseEscape(inClass: false).node
            case UInt8(ascii: "^"):
                index += 1
                return .assertion(.textStart)
            case UInt8(ascii: "$"):
                index += 1
                return .assertion(.textEnd)
            case UInt8(ascii: "."):
                index += 1
                return .set(.dot)
            case UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "?"), UInt8(ascii: "{"):
                throw Unsupported(description: "quantifier with nothing to repeat")
            default:
                if c >= 0x80 {
                    // A non-ASCII character: consume its UTF-8 sequence; it never occurs in ASCII text.
                    index += 1
                    while let n = peek, n & 0xC0 == 0x80 { index += 1 }
                    return .never
                }
                index += 1
                return .byte(c)
            }
        }

        /// An escape at `index` (the backslash): a set, an assertion or a literal byte.
        mutating func parseEscape(inClass: Bool) throws(Unsupported) -> (node: Node, set: ByteSet?) {
            guard index + 1 < bytes.count else { throw Unsupported(description: "trailing backslash") }
            let e = bytes[index + 1]
            index += 2
            switch e {
            case UInt8(ascii: "w"): return (.set(.word), .word)
            case UInt8(ascii: "W"): return (.set(ByteSet.word.inverted), ByteSet.word.inverted)
            case UInt8(ascii: "d"): return (.set(.digit), .digit)
            case UInt8(ascii: "D"): return (.set(ByteSet.digit.inverted), ByteSet.digit.inverted)
            case UInt8(ascii: "s"): return (.set(.space), .space)
            case UInt8(ascii: "S"): return (.set(ByteSet.space.inverted), ByteSet.space.inverted)
            case UInt8(ascii: "b") where !inClass: return (.assertion(.wordBoundary), nil)
            case UInt8(ascii: "B") where !inClass: return (.assertion(.notWordBoundary), nil)
            case UInt8(ascii: "n"): return literal(0x0A)
            case UInt8(ascii: "t"): return literal(0x09)
            case UInt8(ascii: "r"): return literal(0x0D)
            case UInt8(ascii: "f"): return literal(0x0C)
            case UInt8(ascii: "v") where inClass: return literal(0x0B)
            default:
                // Punctuation escapes (\. \? \( \" \- …) are the character itself; letters and
                // digits are classes, properties or back references this engine does not implement.
                let isAlnum = (e | 0x20 >= UInt8(ascii: "a") && e | 0x20 <= UInt8(ascii: "z")) || (e >= 48 && e <= 57)
                guard !isAlnum, e < 0x80 else { throw Unsupported(description: "escape \\\(Character(UnicodeScalar(e)))") }
                return literal(e)
            }
        }

        private func literal(_ b: UInt8) -> (node: Node, set: ByteSet?) {
            var s = ByteSet()
            s.insert(b)
            return (.byte(b), s)
        }

        mutating func parseClass() throws(Unsupported) -> ByteSet {
            index += 1  // [
            var negated = false
            if peek == UInt8(ascii: "^") {
                negated = true
                index += 1
            }
            var set = ByteSet()
            var firstItem = true
            while true {
                guard let c = peek else { throw Unsupported(description: "unclosed class") }
                if c == UInt8(ascii: "]") && !firstItem {
                    index += 1
                    break
                }
                firstItem = false
                if c == UInt8(ascii: "[") { throw Unsupported(description: "nested class") }
                var low: UInt8?
                if c == UInt8(ascii: "\\") {
                    let (_, s) = try parseEscape(inClass: true)
                    guard let s else { throw Unsupported(description: "assertion in a class") }
                    if s.lo.nonzeroBitCount + s.hi.nonzeroBitCount == 1 {
                        low = (0..<128).map(UInt8.init).first(where: s.contains)
                    } else {
                        set.formUnion(s)
                        continue
                    }
                } else if c >= 0x80 {
                    index += 1
                    while let n = peek, n & 0xC0 == 0x80 { index += 1 }
                    if peek == UInt8(ascii: "-") { throw Unsupported(description: "non-ASCII range") }
                    continue
                } else {
                    low = c
                    index += 1
                }
                guard let lowByte = low else { continue }
                if peek == UInt8(ascii: "-"), index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: "]") {
                    index += 1
                    var high = bytes[index]
                    if high == UInt8(ascii: "\\") {
                        let (_, s) = try parseEscape(inClass: true)
                        guard let s, s.lo.nonzeroBitCount + s.hi.nonzeroBitCount == 1 else {
                            throw Unsupported(description: "class range to a class")
                        }
                        high = (0..<128).map(UInt8.init).first(where: s.contains)!
                    } else {
                        guard high < 0x80 else { throw Unsupported(description: "non-ASCII range") }
                        index += 1
                    }
                    guard high >= lowByte else { throw Unsupported(description: "reversed range") }
                    set.insert(lowByte...high)
                } else {
                    set.insert(lowByte)
                }
            }
            return negated ? set.inverted : set
        }
    }

    // MARK: - Compiler

    struct Compiler {
        var insts: [Inst] = []
        var tables: [Int32] = []

        /// An alternation whose alternatives each must consume a first byte jumps straight
        /// to the alternatives that can start with the text's next byte, in their original
        /// order. An alternative whose first byte cannot be that byte cannot match there, so
        /// this finds exactly the match the full chain of splits would, with fewer steps.
        mutating func emitDispatch(_ alts: [Node], leads: [ByteSet]) {
            let offset = tables.count
            tables.append(contentsOf: repeatElement(-1, count: 128))
            insts.append(.dispatch(offset))
            var code: [[Int]: Int] = [:]
            var jumps: [Int] = []
            for byte in 0..<128 {
                let group = alts.indices.filter { leads[$0].contains(UInt8(byte)) }
                guard !group.isEmpty else { continue }
                if let pc = code[group] {
                    tables[offset + byte] = Int32(pc)
                    continue
                }
                code[group] = insts.count
                tables[offset + byte] = Int32(insts.count)
                let nodes = group.map { alts[$0] }
                if nodes.count > 1, case let rests = nodes.compactMap({ Self.dropLeadingByte(UInt8(byte), $0) }), rests.count == nodes.count
                {
                    // Every alternative starts with this very byte: b(?:x|y) tries x then y after
                    // b exactly as bx|by does, so factor the byte out and dispatch again (a trie).
                    insts.append(.byte(UInt8(byte)))
                    emit(.alt(rests))
                } else {
                    emit(nodes.count == 1 ? nodes[0] : .alt(nodes), dispatching: false)
                }
                jumps.append(insts.count)
                insts.append(.jump(-1))
            }
            for j in jumps { insts[j] = .jump(insts.count) }
        }

        /// The bytes a node consuming exactly one byte accepts; nil for any other node.
        static func singleSet(_ node: Node) -> ByteSet? {
            switch node {
            case .set(let s): return s
            case .byte(let b):
                var s = ByteSet()
                s.insert(b)
                return s
            default: return nil
            }
        }

        /// `node` without its first element when that is the literal byte `b`; nil otherwise.
        static func dropLeadingByte(_ b: UInt8, _ node: Node) -> Node? {
            switch node {
            case .byte(let x) where x == b: return .empty
            case .concat(let parts):
                guard let first = parts.first, let rest = dropLeadingByte(b, first) else { return nil }
                var tail = Array(parts.dropFirst())
                if case .empty = rest {} else { tail.insert(rest, at: 0) }
                return tail.isEmpty ? .empty : tail.count == 1 ? tail[0] : .concat(tail)
            default: return nil
            }
        }

        mutating func emit(_ node: Node, dispatching: Bool = true) {
            if dispatching, case .alt(let alts) = node, alts.count >= 2 {
                let leads = alts.map(ByteRegex.lead)
                if leads.allSatisfy({ !$0.nullable && !$0.zeroStart }) {
                    emitDispatch(alts, leads: leads.map(\.set))
                    return
                }
                if leads.allSatisfy({ !$0.nullable }) {
                    // Some alternatives start with `^` (`(?:^|,\s*|…)`). Past position 0 such an
                    // alternative can only begin with a byte of its lead set (none, for a bare
                    // `^`), so the dispatch finds what the chain of splits would; at 0 the chain runs.
                    let atStart = insts.count
                    insts.append(.atStart(-1))
                    emitDispatch(alts, leads: leads.map(\.set))
                    let jump = insts.count
                    insts.append(.jump(-1))
                    insts[atStart] = .atStart(insts.count)
                    emit(node, dispatching: false)
                    insts[jump] = .jump(insts.count)
                    return
                }
            }
            switch node {
            case .empty: break
            case .byte(let b): insts.append(.byte(b))
            case .set(let s): insts.append(.set(s))
            case .never: insts.append(.fail)
            case .concat(let parts): for p in parts { emit(p) }
            case .alt(let alts):
                // split L1, next; L1: a; jump end; next: split L2, next2; …
                var jumps: [Int] = []
                for (i, a) in alts.enumerated() {
                    if i == alts.count - 1 {
                        emit(a)
                    } else {
                        let split = insts.count
                        insts.append(.split(split + 1, -1))
                        emit(a)
                        jumps.append(insts.count)
                        insts.append(.jump(-1))
                        insts[split] = .split(split + 1, insts.count)
                    }
                }
                for j in jumps { insts[j] = .jump(insts.count) }
            case .capture(let n, let k):
                insts.append(.save(2 * k))
                emit(n)
                insts.append(.save(2 * k + 1))
            case .assertion(let a): insts.append(.assert(a))
            case .lookahead(let n, let negative):
                // look sub; jump over; sub: n; match
                let look = insts.count
                insts.append(.look(-1, negative: negative))
                let jump = insts.count
                insts.append(.jump(-1))
                let sub = insts.count
                emit(n)
                insts.append(.match)
                insts[look] = .look(sub, negative: negative)
                insts[jump] = .jump(insts.count)
            case .repetition(let n, let min, let max, let greedy):
                for _ in 0..<min { emit(n) }
                if max.map({ $0 > min }) ?? true, let set = Self.singleSet(n) {
                    insts.append(.span(set, max: max.map { $0 - min }, greedy: greedy))
                } else if let max {
                    // Nested optionals: (n (n (…)?)?)?, each split jumping to the common end.
                    var splits: [Int] = []
                    for _ in 0..<(max - min) {
                        splits.append(insts.count)
                        insts.append(.split(-1, -1))
                        emit(n)
                    }
                    let end = insts.count
                    for s in splits { insts[s] = greedy ? .split(s + 1, end) : .split(end, s + 1) }
                } else {
                    let loop = insts.count
                    insts.append(.split(-1, -1))
                    emit(n)
                    insts.append(.jump(loop))
                    let end = insts.count
                    insts[loop] = greedy ? .split(loop + 1, end) : .split(end, loop + 1)
                }
            }
        }
    }

    // MARK: - Matching

    /// One instruction as the matcher runs it: a fixed-size record (12 bytes) instead of the
    /// `Inst` enum (24 bytes with a byte set inline), switched on a byte. Sets live in `sets`.
    struct Op: Sendable {
        var code: UInt8
        var a: Int32
        var b: Int32

        static let byte: UInt8 = 0, set: UInt8 = 1, split: UInt8 = 2, jump: UInt8 = 3, save: UInt8 = 4
        static let wordBoundary: UInt8 = 5, notWordBoundary: UInt8 = 6, textStart: UInt8 = 7, textEnd: UInt8 = 8
        static let look: UInt8 = 9, dispatch: UInt8 = 10, fail: UInt8 = 11, match: UInt8 = 12
        static let spanGreedy: UInt8 = 13, spanLazy: UInt8 = 14, atStart: UInt8 = 15

        /// `insts` as ops, with each distinct byte set stored once in `sets`.
        static func lower(_ insts: [Inst]) -> (ops: [Op], sets: [ByteSet]) {
            var sets: [ByteSet] = []
            var index: [ByteSet: Int32] = [:]
            let ops = insts.map { inst -> Op in
                switch inst {
                case .byte(let b): return Op(code: byte, a: Int32(b), b: 0)
                case .set(let s):
                    if index[s] == nil {
                        index[s] = Int32(sets.count)
                        sets.append(s)
                    }
                    return Op(code: set, a: index[s]!, b: 0)
                case .split(let x, let y): return Op(code: split, a: Int32(x), b: Int32(y))
                case .jump(let x): return Op(code: jump, a: Int32(x), b: 0)
                case .save(let k): return Op(code: save, a: Int32(k), b: 0)
                case .assert(.wordBoundary): return Op(code: wordBoundary, a: 0, b: 0)
                case .assert(.notWordBoundary): return Op(code: notWordBoundary, a: 0, b: 0)
                case .assert(.textStart): return Op(code: textStart, a: 0, b: 0)
                case .assert(.textEnd): return Op(code: textEnd, a: 0, b: 0)
                case .look(let sub, let negative): return Op(code: look, a: Int32(sub), b: negative ? 1 : 0)
                case .dispatch(let offset): return Op(code: dispatch, a: Int32(offset), b: 0)
                case .atStart(let target): return Op(code: atStart, a: Int32(target), b: 0)
                case .fail: return Op(code: fail, a: 0, b: 0)
                case .match: return Op(code: match, a: 0, b: 0)
                case .span(let s, let max, let greedy):
                    if index[s] == nil {
                        index[s] = Int32(sets.count)
                        sets.append(s)
                    }
                    return Op(code: greedy ? spanGreedy : spanLazy, a: index[s]!, b: max.map { Int32(clamping: $0) } ?? -1)
                }
            }
            return (ops, sets)
        }
    }

    /// Reusable scratch for matching (so a decision allocates its stacks once).
    ///
    /// The matcher reads the stacks and the text index through the raw pointers copied here,
    /// so its loop retains nothing; `frames` owns that memory and frees it with the scratch.
    struct Scratch: ~Copyable {
        fileprivate let frames = FrameStack()
        /// `frames`' backtrack stack, its capacity and the capture slots (updated when it grows).
        fileprivate var stack: UnsafeMutablePointer<Frame>
        fileprivate var capacity: Int
        fileprivate var top = 0
        fileprivate var caps: UnsafeMutablePointer<Int>
        fileprivate var preparedFor: UnsafePointer<UInt8>? = nil
        fileprivate var preparedCount = -1
        /// Where words start in the text being matched (set by `prepare`; a scratch serves one
        /// text), `wordCount` of them.
        fileprivate var wordStarts: UnsafeMutablePointer<Int>
        fileprivate var wordCount = 0
        /// For each byte `b`, which word starts begin with `b`: bit `k % 64` of word
        /// `b * chunks + k / 64` is set when word start `k` does.
        fileprivate var startMasks: UnsafeMutablePointer<UInt64>
        fileprivate var chunks = 0
        /// For each byte, the bytes that follow it somewhere in the text (all of them when it
        /// ends the text); and the same for bytes that start a word. A program none of whose
        /// (first, second) byte pairs occurs cannot match, so `find` answers without scanning.
        fileprivate var pairs: UnsafeMutablePointer<ByteSet>
        fileprivate var startPairs: UnsafeMutablePointer<ByteSet>
        /// The bytes that occur in the text, and those that start a word.
        fileprivate var present = ByteSet()
        fileprivate var presentStarts = ByteSet()
        /// Steps left before the caller must give up and ask ICU.
        var budget: Int

        init(budget: Int) {
            self.budget = budget
            stack = frames.base
            capacity = frames.capacity
            caps = frames.caps
            wordStarts = frames.wordStarts
            startMasks = frames.startMasks
            pairs = frames.pairs
            startPairs = frames.startPairs
        }

        /// Doubles the backtrack stack, keeping its first `count` frames.
        fileprivate mutating func grow(keeping count: Int) {
            frames.grow(keeping: count)
            stack = frames.base
            capacity = frames.capacity
        }

        fileprivate mutating func ensureCaps(_ slots: Int) {
            if slots > frames.capsCapacity {
                frames.ensureCaps(slots)
                caps = frames.caps
            }
        }

        /// Room for the word-start index of a text of `count` bytes.
        fileprivate mutating func ensureWords(_ count: Int) {
            frames.ensureWords(count)
            wordStarts = frames.wordStarts
            startMasks = frames.startMasks
        }
    }

    /// The backtrack stack and capture slots as raw memory: the matcher pushes and pops
    /// without Array's uniqueness and capacity checks. Owned by one `Scratch`, used by one
    /// thread at a time (a scratch is a local of one decision); freed with it.
    fileprivate final class FrameStack {
        var base: UnsafeMutablePointer<Frame>
        var capacity: Int
        var caps: UnsafeMutablePointer<Int>
        var capsCapacity: Int
        var wordStarts: UnsafeMutablePointer<Int>
        var startMasks: UnsafeMutablePointer<UInt64>
        /// Word starts `wordStarts` and `startMasks` have room for.
        var wordsCapacity: Int
        let pairs: UnsafeMutablePointer<ByteSet>
        let startPairs: UnsafeMutablePointer<ByteSet>

        init() {
            capacity = 256
            base = .allocate(capacity: capacity)
            capsCapacity = 8
            caps = .allocate(capacity: capsCapacity)
            caps.initialize(repeating: -1, count: capsCapacity)
            wordsCapacity = 64
            wordStarts = .allocate(capacity: wordsCapacity)
            startMasks = .allocate(capacity: 128 * (wordsCapacity / 64))
            pairs = .allocate(capacity: 128)
            pairs.initialize(repeating: ByteSet(), count: 128)
            startPairs = .allocate(capacity: 128)
            startPairs.initialize(repeating: ByteSet(), count: 128)
        }

        deinit {
            base.deallocate()
            caps.deallocate()
            wordStarts.deallocate()
            startMasks.deallocate()
            pairs.deallocate()
            startPairs.deallocate()
        }

        /// Room for the word starts of a text of `count` bytes (at most one every other byte).
        func ensureWords(_ count: Int) {
            let needed = (count / 2 + 1 + 63) / 64 * 64
            guard needed > wordsCapacity else { return }
            wordStarts.deallocate()
            startMasks.deallocate()
            wordsCapacity = needed
            wordStarts = .allocate(capacity: needed)
            startMasks = .allocate(capacity: 128 * (needed / 64))
        }

        /// Doubles the stack, keeping its first `count` frames.
        func grow(keeping count: Int) {
            let bigger = UnsafeMutablePointer<Frame>.allocate(capacity: capacity * 2)
            bigger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = bigger
            capacity *= 2
        }

        func ensureCaps(_ slots: Int) {
            guard slots > capsCapacity else { return }
            caps.deallocate()
            capsCapacity = slots
            caps = .allocate(capacity: slots)
            caps.initialize(repeating: -1, count: slots)
        }
    }

    fileprivate struct Frame {
        var pc: Int32
        /// For a capture restore: the slot (pc is -1) and its previous value in `pos`. For a
        /// greedy span (at `pc`): how many shorter counts are left to try, the next at `pos`
        /// (> 0). For a lazy span: -2 - how many more bytes it may take, from `pos` (< -1).
        /// Otherwise -1: resume at `pc`, `pos`.
        var slot: Int32
        var pos: Int
    }

    struct Match {
        var start: Int
        var end: Int
        /// Group 1's span, when the pattern has one and it took part.
        var group1: Range<Int>?
    }

    enum Outcome {
        case matched(Match)
        case none
        case outOfBudget
    }

    /// The program's buffers for one search, taken once per call rather than per attempt.
    fileprivate struct Program {
        let ops: UnsafeBufferPointer<Op>
        let sets: UnsafeBufferPointer<ByteSet>
        let table: UnsafeBufferPointer<Int32>
    }

    @inline(__always) private func withProgram<R>(_ body: (Program) -> R) -> R {
        ops.withUnsafeBufferPointer { ops in
            sets.withUnsafeBufferPointer { sets in
                dispatch.withUnsafeBufferPointer { table in
                    body(Program(ops: ops, sets: sets, table: table))
                }
            }
        }
    }

    @inline(__always) private static func isWord(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        i >= 0 && i < t.count && ByteSet.word.contains(t[i])
    }

    /// Runs the program from `pc` at `pos`; the end position of the match, -1 for none, -2 when
    /// the budget ran out.
    private func run(
        _ startPC: Int, _ startPos: Int, _ t: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch, _ p: Program
    ) -> Int {
        var stack = scratch.stack
        var capacity = scratch.capacity
        let base = scratch.top
        var top = base
        let caps = scratch.caps
        let ops = p.ops
        var pc = startPC
        var pos = startPos
        let n = t.count
        var steps = 0
        defer { scratch.budget -= steps }
        while true {
            steps &+= 1
            let op = ops[pc]
            switch op.code {
            case Op.byte:
                if pos < n && t[pos] == UInt8(truncatingIfNeeded: op.a) {
                    pos &+= 1
                    pc &+= 1
                    continue
                }
            case Op.set:
                if pos < n && p.sets[Int(op.a)].contains(t[pos]) {
                    pos &+= 1
                    pc &+= 1
                    continue
                }
            case Op.split:
                if top == capacity {
                    scratch.grow(keeping: top)
                    stack = scratch.stack
                    capacity = scratch.capacity
                }
                stack[top] = Frame(pc: op.b, slot: -1, pos: pos)
                top &+= 1
                pc = Int(op.a)
                continue
            case Op.jump:
                pc = Int(op.a)
                continue
            case Op.save:
                if top == capacity {
                    scratch.grow(keeping: top)
                    stack = scratch.stack
                    capacity = scratch.capacity
                }
                let k = Int(op.a)
                stack[top] = Frame(pc: -1, slot: op.a, pos: caps[k])
                top &+= 1
                caps[k] = pos
                pc &+= 1
                continue
            case Op.wordBoundary:
                if Self.isWord(t, pos - 1) != Self.isWord(t, pos) {
                    pc &+= 1
                    continue
                }
            case Op.notWordBoundary:
                if Self.isWord(t, pos - 1) == Self.isWord(t, pos) {
                    pc &+= 1
                    continue
                }
            case Op.textStart:
                if pos == 0 {
                    pc &+= 1
                    continue
                }
            case Op.textEnd:
                if pos == n || (pos == n - 1 && (t[pos] == 0x0A || t[pos] == 0x0D)) {
                    pc &+= 1
                    continue
                }
            case Op.look:
                if steps > scratch.budget { return -2 }
                scratch.top = top
                scratch.budget -= steps
                steps = 0
                let r = run(Int(op.a), pos, t, &scratch, p)
                // The nested run may have grown the stack; it leaves `top` where it found it.
                stack = scratch.stack
                capacity = scratch.capacity
                if r == -2 { return -2 }
                if (r >= 0) != (op.b != 0) {
                    pc &+= 1
                    continue
                }
            case Op.dispatch:
                if pos < n, t[pos] < 128 {
                    let target = p.table[Int(op.a) + Int(t[pos])]
                    if target >= 0 {
                        pc = Int(target)
                        continue
                    }
                }
            case Op.spanGreedy:
                // Take as many bytes as the set and the bound allow; the frame retries the rest
                // of the program one byte shorter each time it is popped, down to none.
                let set = p.sets[Int(op.a)]
                let limit = op.b < 0 ? n : Swift.min(n, pos + Int(op.b))
                var end = pos
                while end < limit && set.contains(t[end]) { end &+= 1 }
                steps &+= end - pos
                if end > pos {
                    if top == capacity {
                        scratch.grow(keeping: top)
                        stack = scratch.stack
                        capacity = scratch.capacity
                    }
                    stack[top] = Frame(pc: Int32(pc), slot: Int32(end - pos), pos: end - 1)
                    top &+= 1
                }
                pos = end
                pc &+= 1
                continue
            case Op.spanLazy:
                // None first; the frame takes one more byte each time it is popped.
                if op.b != 0 {
                    if top == capacity {
                        scratch.grow(keeping: top)
                        stack = scratch.stack
                        capacity = scratch.capacity
                    }
                    stack[top] = Frame(pc: Int32(pc), slot: -2 - (op.b < 0 ? Int32.max - 2 : op.b), pos: pos)
                    top &+= 1
                }
                pc &+= 1
                continue
            case Op.atStart:
                pc = pos == 0 ? Int(op.a) : pc &+ 1
                continue
            case Op.match:
                scratch.top = base
                return pos
            default:  // Op.fail
                break
            }
            // Backtrack: undo capture saves down to the next alternative.
            var resumed = false
            while top > base {
                top &-= 1
                let f = stack[top]
                if f.pc < 0 {
                    caps[Int(f.slot)] = f.pos
                    continue
                }
                if f.slot > 0 {
                    // A greedy span: the rest of the program at `f.pos`, then one byte shorter.
                    if f.slot > 1 {
                        stack[top] = Frame(pc: f.pc, slot: f.slot - 1, pos: f.pos - 1)
                        top &+= 1
                    }
                    pc = Int(f.pc) + 1
                    pos = f.pos
                    resumed = true
                    break
                }
                if f.slot < -1 {
                    // A lazy span: one byte more, if the set and the bound allow it.
                    let allowed = -2 - f.slot
                    let at = f.pos
                    steps &+= 1
                    guard at < n, p.sets[Int(ops[Int(f.pc)].a)].contains(t[at]) else { continue }
                    if allowed > 1 {
                        stack[top] = Frame(pc: f.pc, slot: -2 - (allowed - 1), pos: at + 1)
                        top &+= 1
                    }
                    pc = Int(f.pc) + 1
                    pos = at + 1
                    resumed = true
                    break
                }
                pc = Int(f.pc)
                pos = f.pos
                resumed = true
                break
            }
            if !resumed {
                scratch.top = base
                return -1
            }
            if steps > scratch.budget { return -2 }
        }
    }

    /// A match starting exactly at `start` (ICU's `.anchored` with the range starting there).
    func match(at start: Int, in t: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch) -> Outcome {
        withProgram { attempt(start, t, &scratch, $0) }
    }

    @inline(__always)
    private func attempt(_ start: Int, _ t: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch, _ p: Program) -> Outcome {
        scratch.top = 0
        if captureGroups > 0 { resetCaptures(&scratch) }
        let end = run(0, start, t, &scratch, p)
        if end == -2 { return .outOfBudget }
        if end < 0 { return .none }
        return .matched(Match(start: start, end: end, group1: group1(scratch)))
    }

    /// The leftmost match at or after `from` (ICU's find).
    func find(in t: UnsafeBufferPointer<UInt8>, from: Int, _ scratch: inout Scratch) -> Outcome {
        if startAnchored {
            guard from == 0 else { return .none }
            return match(at: 0, in: t, &scratch)
        }
        return withProgram { findLoop(t, from, &scratch, $0) }
    }

    /// True when no place in the text (as `prepare` recorded it) has a byte pair this program
    /// can start with: `findLoop` would try no position. Only for programs that must consume
    /// a first byte. Looks only at first bytes that occur in the text.
    @inline(__always) private func cannotStart(_ scratch: borrowing Scratch) -> Bool {
        let table = scratch.pairs
        var lo = first.lo & scratch.present.lo
        while lo != 0 {
            let b = lo.trailingZeroBitCount
            lo &= lo &- 1
            if table[b].intersects(second[b]) { return false }
        }
        var hi = first.hi & scratch.present.hi
        while hi != 0 {
            let b = 64 + hi.trailingZeroBitCount
            hi &= hi &- 1
            if table[b].intersects(second[b]) { return false }
        }
        return true
    }

    /// Whether a match could start at `start` of `t` by its first two bytes (a program that
    /// can match empty or only at the text start: always).
    @inline(__always) func canStart(at start: Int, in t: UnsafeBufferPointer<UInt8>) -> Bool {
        if nullable || zeroStart { return true }
        guard start < t.count, first.contains(t[start]) else { return false }
        return start + 1 >= t.count || second[Int(t[start])].contains(t[start + 1])
    }

    private func findLoop(_ t: UnsafeBufferPointer<UInt8>, _ from: Int, _ scratch: inout Scratch, _ program: Program) -> Outcome {
        let n = t.count
        Self.prepare(t, &scratch)
        if wordStartOnly { return findAtWordStarts(t, from, &scratch, program) }
        if !nullable && !zeroStart && cannotStart(scratch) { return .none }
        var p = from
        while p <= n {
            if !nullable && !(zeroStart && p == 0) {
                // Skip to the next byte that can start a match.
                while p < n, !first.contains(t[p]) || (p + 1 < n && !second[Int(t[p])].contains(t[p + 1])) { p += 1 }
                if p >= n { return .none }
            }
            switch attempt(p, t, &scratch, program) {
            case .matched(let m): return .matched(m)
            case .outOfBudget: return .outOfBudget
            case .none: p += 1
            }
            if scratch.budget < 0 { return .outOfBudget }
        }
        return .none
    }

    /// `findLoop` for a program whose matches start only where words start: the first bytes it
    /// can begin with whose word-start pairs occur in the text select, through the text's
    /// word-start index, the only word starts worth an attempt, in text order.
    private func findAtWordStarts(
        _ t: UnsafeBufferPointer<UInt8>, _ from: Int, _ scratch: inout Scratch, _ program: Program
    ) -> Outcome {
        let n = t.count
        // First bytes at some word start whose following byte this program can take.
        var candidates = ByteSet()
        var lo = first.lo & scratch.presentStarts.lo
        while lo != 0 {
            let b = lo.trailingZeroBitCount
            lo &= lo &- 1
            if scratch.startPairs[b].intersects(second[b]) { candidates.lo |= 1 << UInt64(b) }
        }
        var hi = first.hi & scratch.presentStarts.hi
        while hi != 0 {
            let b = hi.trailingZeroBitCount
            hi &= hi &- 1
            if scratch.startPairs[64 + b].intersects(second[64 + b]) { candidates.hi |= 1 << UInt64(b) }
        }
        if candidates.isEmpty { return .none }
        let chunks = scratch.chunks
        let starts = scratch.wordStarts
        let masks = scratch.startMasks
        for c in 0..<chunks {
            var m: UInt64 = 0
            var l = candidates.lo
            while l != 0 {
                m |= masks[l.trailingZeroBitCount &* chunks &+ c]
                l &= l &- 1
            }
            var h = candidates.hi
            while h != 0 {
                m |= masks[(64 &+ h.trailingZeroBitCount) &* chunks &+ c]
                h &= h &- 1
            }
            while m != 0 {
                let p = starts[c &* 64 &+ m.trailingZeroBitCount]
                m &= m &- 1
                if p < from { continue }
                if p + 1 < n, !second[Int(t[p])].contains(t[p + 1]) { continue }
                switch attempt(p, t, &scratch, program) {
                case .matched(let m): return .matched(m)
                case .outOfBudget: return .outOfBudget
                case .none: if scratch.budget < 0 { return .outOfBudget }
                }
            }
        }
        return .none
    }

    /// Indexes `t` once per text: where words start (and, per first byte, which of them), and
    /// which bytes occur and follow each other.
    private static func prepare(_ t: UnsafeBufferPointer<UInt8>, _ scratch: inout Scratch) {
        if scratch.preparedFor == t.baseAddress && scratch.preparedCount == t.count { return }
        scratch.preparedFor = t.baseAddress
        scratch.preparedCount = t.count
        let n = t.count
        scratch.ensureWords(n)
        let pairs = scratch.pairs, startPairs = scratch.startPairs, starts = scratch.wordStarts
        // A row is cleared when its byte first occurs, so rows of absent bytes are never read.
        var present = ByteSet(), presentStarts = ByteSet()
        var count = 0
        var previousWord = false
        for i in 0..<n {
            let b = t[i]
            let word = ByteSet.word.contains(b)
            let index = Int(b & 0x7F)
            if !present.contains(b & 0x7F) {
                present.insert(b & 0x7F)
                pairs[index] = ByteSet()
            }
            if i + 1 < n {
                pairs[index].insert(t[i + 1])
            } else {
                pairs[index] = ByteSet().inverted
            }
            if word && !previousWord {
                starts[count] = i
                count += 1
                if !presentStarts.contains(b & 0x7F) {
                    presentStarts.insert(b & 0x7F)
                    startPairs[index] = ByteSet()
                }
                startPairs[index] = i + 1 < n ? startPairs[index].union(t[i + 1]) : ByteSet().inverted
            }
            previousWord = word
        }
        let chunks = (count + 63) / 64
        let masks = scratch.startMasks
        var cleared = ByteSet()
        for k in 0..<count {
            let b = t[starts[k]] & 0x7F
            let row = Int(b) &* chunks
            if !cleared.contains(b) {
                cleared.insert(b)
                (masks + row).update(repeating: 0, count: chunks)
            }
            masks[row + k / 64] |= 1 << UInt64(k % 64)
        }
        scratch.wordCount = count
        scratch.chunks = chunks
        scratch.present = present
        scratch.presentStarts = presentStarts
    }

    /// Up to `limit` successive matches, as ICU's enumeration finds them (after an empty
    /// match the search moves on one position). Nil when the budget ran out.
    func findAll(in t: UnsafeBufferPointer<UInt8>, limit: Int, _ scratch: inout Scratch) -> [Match]? {
        var out: [Match] = []
        var from = 0
        while out.count < limit, from <= t.count {
            switch find(in: t, from: from, &scratch) {
            case .outOfBudget: return nil
            case .none: return out
            case .matched(let m):
                out.append(m)
                from = m.end == m.start ? m.end + 1 : m.end
            }
        }
        return out
    }

    private func resetCaptures(_ scratch: inout Scratch) {
        let slots = 2 * (captureGroups + 1)
        scratch.ensureCaps(slots)
        scratch.caps.update(repeating: -1, count: slots)
    }

    private func group1(_ scratch: borrowing Scratch) -> Range<Int>? {
        guard captureGroups >= 1 else { return nil }
        let s = scratch.caps[2], e = scratch.caps[3]
        return s >= 0 && e >= s ? s..<e : nil
    }
}

/// The clause starts of one request for anchored cues, as the ICU path builds them
/// (`PolicyEngine.Heads`): the places where the anchor macro's matches end, and the text from
/// each to the end, joined by newlines. Anchored cues run `(?m)^(?:rest)` over that string;
/// this reproduces it byte for byte, including the ICU path's switch to exact per-start
/// matching when a match runs past its own line, so both paths quote the same text.
final class ByteHeads {
    /// Byte offsets in the request where a clause starts.
    let starts: [Int]
    /// The joined heads.
    let text: [UInt8]
    /// Offset in `text` where each line starts and ends.
    let lineStarts: [Int]
    let lineEnds: [Int]

    init?(anchor: ByteRegex, text t: UnsafeBufferPointer<UInt8>, _ scratch: inout ByteRegex.Scratch) {
        guard let all = anchor.findAll(in: t, limit: Int.max, &scratch) else { return nil }
        var starts: [Int] = []
        for m in all where m.end < t.count && starts.last != m.end { starts.append(m.end) }
        var joined: [UInt8] = []
        var lineStarts: [Int] = []
        var lineEnds: [Int] = []
        for (i, s) in starts.enumerated() {
            if i > 0 { joined.append(0x0A) }
            lineStarts.append(joined.count)
            joined.append(contentsOf: UnsafeBufferPointer(rebasing: t[s...]))
            lineEnds.append(joined.count)
        }
        self.starts = starts
        self.text = joined
        self.lineStarts = lineStarts
        self.lineEnds = lineEnds
    }

    /// The texts an anchored cue matched (at most `max(1, minCount)` on the heads path, every
    /// start on the exact path), or nil when the budget ran out.
    func match(_ program: ByteRegex, minCount: Int, text t: UnsafeBufferPointer<UInt8>, _ scratch: inout ByteRegex.Scratch) -> [String]? {
        let limit = max(1, minCount)
        var found: [String] = []
        var crossed = false
        let result: [String]? = text.withUnsafeBufferPointer { h -> [String]? in
            // `(?m)^…` enumerated over the heads: only line starts can match; after a match the
            // search resumes at its end (one further after an empty match).
            var from = 0
            var count = 0
            for (line, start) in lineStarts.enumerated() where start >= from && program.canStart(at: start, in: h) {
                switch program.match(at: start, in: h, &scratch) {
                case .outOfBudget: return nil
                case .none: continue
                case .matched(let m):
                    count += 1
                    from = m.end == m.start ? m.end + 1 : m.end
                    // The ICU path: the line of the match's start is `line`.
                    if m.end > lineEnds[line] {
                        crossed = true
                        return found
                    }
                    found.append(String(decoding: UnsafeBufferPointer(rebasing: h[m.start..<m.end]), as: UTF8.self))
                    if minCount <= 1 || count >= limit { return found }
                }
            }
            return found
        }
        guard let result else { return nil }
        guard crossed else { return result }
        // Exact: anchored at each start, the region from there to the end (opaque bounds).
        var exact: [String] = []
        for s in starts {
            let region = UnsafeBufferPointer(rebasing: t[s...])
            switch program.match(at: 0, in: region, &scratch) {
            case .outOfBudget: return nil
            case .none: continue
            case .matched(let m):
                exact.append(String(decoding: UnsafeBufferPointer(rebasing: region[m.start..<m.end]), as: UTF8.self))
                if minCount <= 1 { return exact }
            }
        }
        return exact
    }
}

extension ByteRegex {
    /// Compiled programs by pattern, shared by every engine in the process.
    ///
    /// Why: compiling is the slow part of building an engine, and the same patterns are compiled
    /// again and again: the audit builds one engine per candidate cue (the policy plus one cue),
    /// and a reload rebuilds every cue that did not change. Bounded: past `cacheLimit` entries
    /// the cache starts over, so a stream of distinct patterns cannot grow it without end.
    private static let cache = Mutex<[String: ByteRegex?]>([:])
    static let cacheLimit = 4_096

    /// How many patterns the cache holds now (for tests).
    static var cachedCount: Int { cache.withLock { $0.count } }

    /// The program for `pattern`, or nil when the engine does not implement one of its constructs.
    static func cached(_ pattern: String) -> ByteRegex? {
        if let hit = cache.withLock({ $0[pattern] }) { return hit }
        let program = try? ByteRegex(pattern)
        cache.withLock { table in
            if table.count >= cacheLimit { table.removeAll(keepingCapacity: true) }
            table[pattern] = .some(program)
        }
        return program
    }
}
