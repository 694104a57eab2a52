/// What any match of a byte program must contain, for the cue gate: a list of conditions, each
/// a set of byte strings one of which occurs in every match (so all conditions must hold for a
/// match to exist). Derived from the parsed pattern, wherever its literals stand: `[^?]*(\?)`
/// needs a "?", a quantity pattern that opens with optional words still needs "hundred",
/// "thousand" or "million" further on.
///
/// Why: most cue searches end without a match (≈ 90 % of the VM's steps were spent on cues
/// that did not match), and the leading-literal prefilter (`CuePrefilter`) cannot help a
/// pattern that opens with an optional part, a class or a lookahead. A condition is necessary,
/// never sufficient, so skipping a cue whose condition fails never changes a decision.
struct MatchNeeds: Sendable, Equatable {
    /// Each condition: strings (lowercase ASCII) one of which every match contains.
    let conditions: [[[UInt8]]]

    /// Most strings a node's exact set may hold before it is treated as unknown.
    static let exactLimit = 32
    /// Longest string kept in an exact set (a longer one stops the product).
    static let lengthLimit = 16
    /// Most conditions kept per program (the best ones).
    static let conditionLimit = 3

    /// What one node can match, as far as the analysis tracks it.
    struct Info {
        /// Every string the node can match, when that is a small finite set; nil otherwise.
        var exact: Set<[UInt8]>?
        /// Conditions every match of the node meets.
        var needs: [Set<[UInt8]>]
    }

    init(conditions: [[[UInt8]]]) {
        self.conditions = conditions
    }

    /// The conditions of a parsed pattern that the gate can check (every string of a condition
    /// yields a gate code, none is empty), the best `conditionLimit` of them.
    init(_ node: ByteRegex.Node) {
        let info = Self.info(node)
        var all = info.needs
        if let exact = info.exact { all.append(exact) }
        var usable: [(cost: Double, strings: [[UInt8]])] = []
        for need in all {
            guard !need.isEmpty, let cost = Self.cost(need), cost <= Self.worthChecking else { continue }
            let sorted = need.sorted { $0.lexicographicallyPrecedes($1) }
            if usable.contains(where: { $0.strings == sorted }) { continue }
            usable.append((cost, sorted))
        }
        usable.sort { $0.cost != $1.cost ? $0.cost < $1.cost : $0.strings.count < $1.strings.count }
        conditions = usable.prefix(Self.conditionLimit).map(\.strings)
    }

    /// A condition estimated to hold in more requests than this is not worth the gate's time.
    static let worthChecking = 0.9

    /// A rough chance that a request meets the condition (one of its strings' gate codes occurs),
    /// from `GateCode.chance`; nil when a string has no gate code (an empty string, or only spaces
    /// and single letters), so the condition always holds. Only ranks conditions: exactness never
    /// depends on it.
    static func cost(_ need: Set<[UInt8]>) -> Double? {
        var none = 1.0
        for s in need {
            guard let code = GateCode(s) else { return nil }
            none *= 1 - code.chance
        }
        return 1 - none
    }

    static func info(_ node: ByteRegex.Node) -> Info {
        switch node {
        case .empty, .assertion, .lookahead:
            return Info(exact: [[]], needs: [])
        case .byte(let b):
            return Info(exact: [[b]], needs: [])
        case .set(let s):
            let bytes = (0..<128).map(UInt8.init).filter(s.contains)
            return Info(exact: bytes.count <= 10 ? Set(bytes.map { [$0] }) : nil, needs: [])
        case .never:
            return Info(exact: [], needs: [])
        case .capture(let n, _):
            return info(n)
        case .repetition(let n, let min, let max, _):
            let inner = info(n)
            if min == 0 {
                if max == 1, var exact = inner.exact {
                    exact.insert([])
                    return Info(exact: exact, needs: [])
                }
                return Info(exact: nil, needs: [])
            }
            // At least one copy: the first copy's conditions hold.
            if min == 1 && max == 1 { return inner }
            var needs = inner.needs
            if let exact = inner.exact { needs.append(exact) }
            return Info(exact: nil, needs: needs)
        case .concat(let parts):
            var needs: [Set<[UInt8]>] = []
            var current: Set<[UInt8]>? = [[]]
            var whole = true
            for part in parts {
                let p = info(part)
                needs += p.needs
                if let c = current, let e = p.exact, c.count * e.count <= exactLimit,
                    let product = Self.product(c, e)
                {
                    current = product
                    continue
                }
                whole = false
                if let c = current { needs.append(c) }
                current = p.exact
            }
            if whole { return Info(exact: current, needs: needs) }
            if let c = current { needs.append(c) }
            return Info(exact: nil, needs: needs)
        case .alt(let alts):
            let infos = alts.map(info)
            if infos.allSatisfy({ $0.exact != nil }) {
                let union = infos.reduce(into: Set<[UInt8]>()) { $0.formUnion($1.exact!) }
                if union.count <= exactLimit { return Info(exact: union, needs: []) }
            }
            // One condition: for each alternative its best one, together.
            var union = Set<[UInt8]>()
            for i in infos {
                var candidates = i.needs
                if let e = i.exact { candidates.append(e) }
                let best = candidates.compactMap { c in cost(c).map { (c, $0) } }.min { $0.1 < $1.1 }
                guard let best else { return Info(exact: nil, needs: []) }
                union.formUnion(best.0)
            }
            return Info(exact: nil, needs: [union])
        }
    }

    /// Every concatenation of a string of `a` and one of `b`; nil when one would be too long.
    static func product(_ a: Set<[UInt8]>, _ b: Set<[UInt8]>) -> Set<[UInt8]>? {
        var out = Set<[UInt8]>()
        for x in a {
            for y in b {
                guard x.count + y.count <= lengthLimit else { return nil }
                out.insert(x + y)
            }
        }
        return out
    }
}

/// What the gate looks for to know a string may occur in a request: a run of two or three
/// letters (a `Grams.code`; the gate records every such run), or a byte that is neither a
/// letter nor a space. A string that occurs in the text has its code in the text.
enum GateCode: Hashable, Sendable {
    case gram(Int)
    case byte(UInt8)

    /// Rough English letter frequencies (per 1,000 letters), to pick a string's rarest run.
    private static let frequency: [Double] = [
        82, 15, 28, 43, 127, 22, 20, 61, 70, 2, 8, 40, 24, 67, 75, 19, 1, 60, 63, 91, 28, 10, 24, 2, 20, 1,
    ]

    /// Words that occur in most requests: a run inside one of them is nearly always present.
    private static let common: [[UInt8]] = [
        "the", "and", "to", "of", "in", "on", "for", "is", "it", "at", "all", "our", "my", "with", "that", "this", "be", "me",
        "you", "if", "or", "we", "an", "can", "do", "from", "are", "any", "what", "how", "by", "as", "so", "not", "no", "us",
        "then", "each", "every", "when", "will", "have", "has", "get", "out", "up", "about", "over", "one", "some", "just",
        "please", "there", "here", "them", "they", "was", "were", "would", "could", "should", "into", "after", "before",
    ].map { Array($0.utf8) }

    init?(_ s: [UInt8]) {
        func isLetter(_ b: UInt8) -> Bool { b >= 97 && b <= 122 }
        // The rarest run of three letters, else of two.
        var best: (chance: Double, code: Int)?
        for length in [3, 2] {
            guard s.count >= length else { continue }
            for start in 0...(s.count - length) {
                let run = Array(s[start..<(start + length)])
                guard run.allSatisfy(isLetter) else { continue }
                let chance = Self.gramChance(run)
                if best == nil || chance < best!.chance { best = (chance, Grams.code(run)) }
            }
            if best != nil { break }
        }
        if let best {
            self = .gram(best.code)
            return
        }
        // Else a byte that is no letter and no space (those occur in nearly every request).
        guard let b = s.first(where: { !isLetter($0) && $0 != 0x20 && $0 < 0x80 && !($0 >= 65 && $0 <= 90) }) else { return nil }
        self = .byte(b)
    }

    /// A rough chance that a request holds a run of letters: high inside common words, lower for
    /// a trigram of rare letters.
    static func gramChance(_ run: [UInt8]) -> Double {
        if common.contains(where: { w in
            w.count >= run.count && (0...(w.count - run.count)).contains { Array(w[$0..<($0 + run.count)]) == run }
        }) {
            return run.count == 3 ? 0.5 : 0.7
        }
        if run.count == 2 { return 0.3 }
        let product = run.reduce(1.0) { $0 * Self.frequency[Int($1 - 97)] }
        return Swift.min(0.3, Swift.max(0.01, product / 1_000_000 * 0.25))
    }

    /// A rough chance that a request holds the code (ranks conditions only).
    var chance: Double {
        switch self {
        case .gram(let code):
            var letters: [UInt8] = []
            if code >= 676 {
                let c = code - 676
                letters = [UInt8(c / 676), UInt8(c / 26 % 26), UInt8(c % 26)].map { $0 + 97 }
            } else {
                letters = [UInt8(code / 26), UInt8(code % 26)].map { $0 + 97 }
            }
            return Self.gramChance(letters)
        case .byte(let b):
            switch b {
            case UInt8(ascii: ","), UInt8(ascii: "."): return 0.5
            case UInt8(ascii: "'"), UInt8(ascii: "?"): return 0.3
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return 0.15
            default: return 0.1
            }
        }
    }
}
