import Foundation

/// Interprets a `PolicyDocument`: scores a request's cues and hints and decides inline or
/// detach, with the evidence. Regexes are compiled once here; `decide` is pure and cheap.
public struct PolicyEngine: Sendable {
    public let policy: PolicyDocument
    private let families: [CompiledFamily]

    /// A class, so the per-request loop over cues retains one reference instead of copying
    /// every field.
    private final class CompiledCue: Sendable {
        let id: String
        /// For an anchored cue: `(?m)^(?:rest)`, run over the clause heads. Unused (a
        /// never-matching placeholder) for a structure cue.
        let regex: NSRegularExpression
        let weight: Double
        let minCount: Int
        let prefilter: CuePrefilter?
        /// Set when the pattern starts with `{{macro}}`: the macro's name.
        let anchor: String?
        /// Set for a `@feature` cue: it fires when the request has that structure.
        let feature: StructureFeature?
        /// The same pattern for the byte engine (for an anchored cue: the rest after the
        /// anchor, run at each clause start); nil for a structure cue or an unsupported pattern.
        let bytes: ByteRegex?

        init(
            id: String, regex: NSRegularExpression, weight: Double, minCount: Int, prefilter: CuePrefilter?, anchor: String?,
            feature: StructureFeature? = nil, bytes: ByteRegex? = nil
        ) {
            self.id = id
            self.regex = regex
            self.weight = weight
            self.minCount = minCount
            self.prefilter = prefilter
            self.anchor = anchor
            self.feature = feature
            self.bytes = bytes
        }
    }

    /// Macros used as leading anchors, compiled once.
    private let anchors: [String: NSRegularExpression]
    /// The anchors for the byte engine.
    private let byteAnchors: [String: ByteRegex]
    /// True when every cue and anchor compiled for the byte engine: then ASCII requests are
    /// decided without ICU (`decide`); otherwise every request takes the ICU path.
    public let usesByteEngine: Bool
    /// Family name → label, for reasons.
    private let labels: [String: String]
    /// The policy flattened for `decideFast`; nil when the byte engine cannot run it.
    private let plan: BytePlan?

    private struct CompiledFamily: Sendable {
        let name: String
        let label: String
        let pull: Decision
        let trigger: TriggerClass?
        let cap: Double
        let cues: [CompiledCue]
        let suppressedBy: [StructureFeature]
    }

    /// Validates the policy and compiles its patterns.
    public init(policy: PolicyDocument) throws(PolicyError) {
        var validated: [String: NSRegularExpression] = [:]
        if let problem = PolicyValidator.validate(policy, compiled: &validated).first { throw problem }
        self.policy = policy
        var compiled: [CompiledFamily] = []
        var anchors: [String: NSRegularExpression] = [:]
        var byteAnchors: [String: ByteRegex] = [:]
        var allBytes = true
        func bytes(_ expanded: String) -> ByteRegex? {
            let program = ByteRegex.cached(RegexCompiler.lowercasePattern(expanded))
            if program == nil { allBytes = false }
            return program
        }
        func failure(_ id: String) -> PolicyError {
            PolicyError(kind: .invalidPattern, reason: "cue '\(id)' does not compile")
        }
        for family in policy.families {
            var cues: [CompiledCue] = []
            for cue in family.cues {
                if cue.pattern.hasPrefix("@"), let feature = StructureFeature(rawValue: String(cue.pattern.dropFirst())) {
                    cues.append(
                        CompiledCue(
                            id: cue.id, regex: Self.never, weight: cue.weight, minCount: 1, prefilter: nil, anchor: nil,
                            feature: feature))
                    continue
                }
                // validate() proved every pattern expands and compiles.
                let prefilter = CuePrefilter.derive(from: cue.pattern)
                if let (macro, rest) = Self.leadingAnchor(cue.pattern, macros: policy.macros),
                    case .success(let restExpanded) = RegexCompiler.expand(rest, macros: policy.macros),
                    let headRegex = try? RegexCompiler.compile("(?m)^(?:" + restExpanded + ")"),
                    let anchorRegex = anchors[macro] ?? (try? RegexCompiler.compile(policy.macros[macro]!))
                {
                    anchors[macro] = anchorRegex
                    if byteAnchors[macro] == nil, let program = bytes(policy.macros[macro]!) { byteAnchors[macro] = program }
                    cues.append(
                        CompiledCue(
                            id: cue.id, regex: headRegex, weight: cue.weight, minCount: cue.minCount ?? 1,
                            prefilter: prefilter, anchor: macro, bytes: bytes(restExpanded)))
                    continue
                }
                guard case .success(let expanded) = RegexCompiler.expand(cue.pattern, macros: policy.macros),
                    let regex = validated[expanded] ?? (try? RegexCompiler.compile(expanded))
                else { throw failure(cue.id) }
                cues.append(
                    CompiledCue(
                        id: cue.id, regex: regex, weight: cue.weight, minCount: cue.minCount ?? 1,
                        prefilter: prefilter, anchor: nil, bytes: bytes(expanded)))
            }
            compiled.append(
                CompiledFamily(
                    name: family.name, label: family.label, pull: family.pull, trigger: family.trigger,
                    cap: family.max ?? .infinity, cues: cues,
                    suppressedBy: (family.suppressedBy ?? []).compactMap(StructureFeature.init(rawValue:))))
        }
        self.families = compiled
        self.anchors = anchors
        self.byteAnchors = byteAnchors
        self.usesByteEngine = allBytes && anchors.keys.allSatisfy { byteAnchors[$0] != nil }
        var labels: [String: String] = ["hints": "hint"]
        for f in compiled { labels[f.name] = f.label }
        self.labels = labels
        self.plan =
            usesByteEngine
            ? BytePlan(
                families: compiled.map { ($0.name, $0.label, $0.pull, $0.trigger, $0.cap, $0.suppressedBy) },
                cues: compiled.map { $0.cues.map { ($0.id, $0.weight, $0.minCount, $0.prefilter, $0.anchor, $0.feature, $0.bytes) } },
                anchors: byteAnchors) : nil
    }

    /// Placeholder regex of structure cues (never run).
    private static let never = try! NSRegularExpression(pattern: "(?!)")

    /// The first `limit` matches (ICU stops there instead of scanning the whole text).
    static func matches(_ regex: NSRegularExpression, in text: String, length: Int, upTo limit: Int) -> [NSTextCheckingResult] {
        let range = NSRange(location: 0, length: length)
        if limit <= 1 { return regex.firstMatch(in: text, options: [], range: range).map { [$0] } ?? [] }
        var out: [NSTextCheckingResult] = []
        regex.enumerateMatches(in: text, options: [], range: range) { result, _, stop in
            if let result { out.append(result) }
            if out.count >= limit { stop.pointee = true }
        }
        return out
    }

    /// `{{m}}rest` with no top-level `|` → (m, rest). Such a cue means "rest, matched at
    /// each place where macro m ends" (e.g. at each clause start); the engine runs it
    /// once over a string of those places instead of scanning every position.
    static func leadingAnchor(_ pattern: String, macros: [String: String]) -> (String, String)? {
        guard pattern.hasPrefix("{{"), let close = pattern.range(of: "}}") else { return nil }
        let name = String(pattern[pattern.index(pattern.startIndex, offsetBy: 2)..<close.lowerBound])
            .trimmingCharacters(in: .whitespaces)
        let rest = String(pattern[close.upperBound...])
        guard macros[name] != nil, !rest.isEmpty,
            let first = rest.first, !"?*+{|".contains(first),
            let top = CuePrefilter.splitTopLevel(Substring(pattern)), top.count == 1
        else { return nil }
        return (name, rest)
    }

    /// The places where an anchor macro ends, and the text from each place to the end,
    /// one per line: anchored cues run once over this as `(?m)^…`.
    private struct Heads {
        let starts: [Int]
        let text: String
        let ns: NSString
        /// UTF-16 offset where each line ends in `text`.
        let lineEnds: [Int]
    }

    private func heads(for anchor: NSRegularExpression, in ns: NSString, _ text: String) -> Heads {
        var starts: [Int] = []
        for m in anchor.matches(in: text, options: [], range: NSRange(location: 0, length: ns.length)) {
            let end = m.range.location + m.range.length
            if end < ns.length, starts.last != end { starts.append(end) }
        }
        var lines: [String] = []
        var lineEnds: [Int] = []
        var offset = 0
        for start in starts {
            let line = ns.substring(from: start)
            lines.append(line)
            offset += (line as NSString).length
            lineEnds.append(offset)
            offset += 1  // the "\n"
        }
        let joined = lines.joined(separator: "\n")
        return Heads(starts: starts, text: joined, ns: joined as NSString, lineEnds: lineEnds)
    }

    /// Runs an anchored cue: once over the heads; exactly per start if a match ran past
    /// its own line (the pattern can cross newlines), so results equal per-start matching.
    private func matchAnchored(_ cue: CompiledCue, _ heads: Heads, text: String, ns: NSString) -> [String] {
        let all = Self.matches(cue.regex, in: heads.text, length: heads.ns.length, upTo: cue.minCount)
        var crossed = false
        var found: [String] = []
        for m in all {
            let lineEnd = heads.lineEnds.first { $0 >= m.range.location } ?? heads.ns.length
            if m.range.location + m.range.length > lineEnd {
                crossed = true
                break
            }
            found.append(heads.ns.substring(with: m.range))
            if cue.minCount <= 1 { break }
        }
        guard crossed else { return found }
        // Exact: the same `(?m)^…` regex, anchored at each start of the original text (the
        // range start counts as a line start).
        found = []
        for start in heads.starts {
            let range = NSRange(location: start, length: ns.length - start)
            if let m = cue.regex.firstMatch(in: text, options: [.anchored], range: range) {
                found.append(ns.substring(with: m.range))
                if cue.minCount <= 1 { break }
            }
        }
        return found
    }

    /// An engine for the shipped default policy.
    public static func bundledDefault() throws(PolicyError) -> PolicyEngine {
        try PolicyEngine(policy: PolicyDocument.bundledDefault())
    }

    /// Folds typographic quotes and runs of whitespace so cues are written once.
    static func normalize(_ text: String) -> String {
        // ASCII: the same folding on bytes (only whitespace changes; quotes and dashes are not ASCII).
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf8.count)
            var lastWasSpace = true
            for b in text.utf8 {
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) {
                    if !lastWasSpace { bytes.append(0x20) }
                    lastWasSpace = true
                } else {
                    bytes.append(b)
                    lastWasSpace = false
                }
            }
            while bytes.last == 0x20 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        var out = String.UnicodeScalarView()
        var lastWasSpace = true
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\u{2018}", "\u{2019}", "\u{02BC}", "\u{2032}":
                out.append("'")
                lastWasSpace = false
            case "\u{201C}", "\u{201D}", "\u{201E}", "\u{00AB}", "\u{00BB}":
                out.append("\"")
                lastWasSpace = false
            case "\u{2013}", "\u{2014}":
                out.append("-")
                lastWasSpace = false
            default:
                if scalar.properties.isWhitespace {
                    if !lastWasSpace { out.append(" ") }
                    lastWasSpace = true
                } else {
                    out.append(scalar)
                    lastWasSpace = false
                }
            }
        }
        var s = String(out)
        while s.last == " " { s.removeLast() }
        return s
    }

    /// Decides one request. Deterministic: the same policy and request give the same answer.
    ///
    /// ASCII requests run on the byte engine (`ByteRegex`); a request with any non-ASCII byte,
    /// or one whose matching runs past the byte engine's step budget, runs on ICU
    /// (`decideWithICU`). Both give the same decision and the same reason.
    public func decide(_ request: AdmissionRequest) -> AdmissionDecision {
        if let plan, let decided = decideFast(request, plan: plan) { return decided }
        // Cues are case-insensitive by matching lowercased text (see RegexCompiler.options).
        let text = Self.normalize(request.text).lowercased()
        if usesByteEngine, let decided = decideOnBytes(request, text) { return decided }
        return decideOnICU(request, text)
    }

    /// The reference engine: every cue through `NSRegularExpression`, as before the byte
    /// engine existed. Kept for `bridgeback bench policy` (the baseline measured in the same
    /// run) and the equivalence tests; admission itself calls `decide`.
    public func decideWithICU(_ request: AdmissionRequest) -> AdmissionDecision {
        decideOnICU(request, Self.normalize(request.text).lowercased())
    }

    /// Whether `decide` would take the byte engine for this request (ASCII text, a policy the
    /// byte engine compiles); for benchmarks, which report the share.
    public func takesByteEngine(_ request: AdmissionRequest) -> Bool {
        usesByteEngine && Self.normalize(request.text).lowercased().utf8.allSatisfy { $0 < 0x80 }
    }

    /// Steps the byte engine may take on one request before it hands the request to ICU.
    static let byteBudget = 2_000_000

    private func decideOnBytes(_ request: AdmissionRequest, _ text: String) -> AdmissionDecision? {
        var bytes = Array(text.utf8)
        for b in bytes where b >= 0x80 { return nil }
        return bytes.withUnsafeMutableBufferPointer { mutable -> AdmissionDecision? in
            let t = UnsafeBufferPointer(mutable)
            var scratch = ByteRegex.Scratch(budget: Self.byteBudget)
            // Few anchors (the shipped policy has one): a list beats hashing the name per cue.
            var heads: [(String, ByteHeads)] = []
            func substring(_ r: Range<Int>, _ buffer: UnsafeBufferPointer<UInt8>) -> String {
                String(decoding: UnsafeBufferPointer(rebasing: buffer[r]), as: UTF8.self)
            }
            let scored = score(text) { cue -> CueResult in
                guard let program = cue.bytes else { return .abort }
                if let anchor = cue.anchor {
                    let cached: ByteHeads
                    if let hit = heads.first(where: { $0.0 == anchor }) {
                        cached = hit.1
                    } else {
                        guard let anchorProgram = byteAnchors[anchor],
                            let made = ByteHeads(anchor: anchorProgram, text: t, &scratch)
                        else { return .abort }
                        heads.append((anchor, made))
                        cached = made
                    }
                    guard let found = cached.match(program, minCount: cue.minCount, text: t, &scratch) else { return .abort }
                    return found.count >= cue.minCount && !found.isEmpty
                        ? .hit(found.prefix(4).map { Self.tidy($0) }.joined(separator: " … ")) : .miss
                }
                if cue.minCount <= 1 {
                    switch program.find(in: t, from: 0, &scratch) {
                    case .outOfBudget: return .abort
                    case .none: return .miss
                    case .matched(let m): return .hit(substring(m.group1 ?? m.start..<m.end, t))
                    }
                }
                guard let all = program.findAll(in: t, limit: cue.minCount, &scratch) else { return .abort }
                return all.count >= cue.minCount
                    ? .hit(all.prefix(4).map { Self.tidy(substring($0.start..<$0.end, t)) }.joined(separator: " … ")) : .miss
            }
            guard let (hits, wording) = scored else { return nil }
            return conclude(request, hits: hits, wording: wording)
        }
    }

    /// What one cue's matcher found.
    private enum CueResult {
        case hit(String)
        case miss
        /// The matcher cannot decide (step budget spent): the request goes to ICU.
        case abort
    }

    /// Runs every family's cues through `match` (structure cues and the prefilter are handled
    /// here, the same for both engines) and returns the hits and the capped wording score.
    private func score(_ text: String, _ match: (CompiledCue) -> CueResult) -> ([CueMatch], Double)? {
        let grams = Grams(text)
        let rule = policy.decision
        var hits: [CueMatch] = []
        var wording = 0.0
        let structure = RequestStructure(text)
        for family in families {
            if family.suppressedBy.contains(where: structure.holds) { continue }
            var familyTotal = 0.0
            for cue in family.cues {
                if let filter = cue.prefilter, !filter.allows(grams) { continue }
                let matched: String?
                if let feature = cue.feature {
                    matched = structure.evidence[feature]
                } else {
                    switch match(cue) {
                    case .abort: return nil
                    case .miss: matched = nil
                    case .hit(let text): matched = text
                    }
                }
                guard let matched else { continue }
                familyTotal += cue.weight
                hits.append(
                    CueMatch(
                        family: family.name, cue: cue.id, trigger: family.trigger, pull: family.pull,
                        weight: cue.weight, text: Self.tidy(matched)))
            }
            let capped = Swift.min(familyTotal, family.cap)
            wording += family.pull == .detach ? capped : -capped
        }
        wording = Swift.max(-rule.wordingCap, Swift.min(rule.wordingCap, wording))
        return (hits, wording)
    }

    private func decideOnICU(_ request: AdmissionRequest, _ text: String) -> AdmissionDecision {
        let ns = text as NSString
        let range = NSRange(location: 0, length: ns.length)
        var headsCache: [String: Heads] = [:]
        let scored = score(text) { cue -> CueResult in
            let matched: String?
            if let anchor = cue.anchor, let anchorRegex = anchors[anchor] {
                if headsCache[anchor] == nil { headsCache[anchor] = heads(for: anchorRegex, in: ns, text) }
                let found = matchAnchored(cue, headsCache[anchor]!, text: text, ns: ns)
                matched =
                    found.count >= cue.minCount && !found.isEmpty
                    ? found.prefix(4).map { Self.tidy($0) }.joined(separator: " … ") : nil
            } else if cue.minCount <= 1 {
                matched = cue.regex.firstMatch(in: text, options: [], range: range).map {
                    // A pattern with a capture group reports group 1 (e.g. just the "?").
                    let shown =
                        $0.numberOfRanges > 1 && $0.range(at: 1).location != NSNotFound
                        ? $0.range(at: 1) : $0.range
                    return ns.substring(with: shown)
                }
            } else {
                let all = Self.matches(cue.regex, in: text, length: range.length, upTo: cue.minCount)
                matched =
                    all.count >= cue.minCount
                    ? all.prefix(4).map { Self.tidy(ns.substring(with: $0.range)) }.joined(separator: " … ")
                    : nil
            }
            return matched.map { .hit($0) } ?? .miss
        }
        // The ICU matcher never aborts.
        let (hits, wording) = scored!
        return conclude(request, hits: hits, wording: wording)
    }

    /// Hints, the threshold, force, the order of the evidence and the reason: the part of a
    /// decision after the cues, shared by both engines.
    private func conclude(_ request: AdmissionRequest, hits cueHits: [CueMatch], wording: Double) -> AdmissionDecision {
        let rule = policy.decision
        var hits = cueHits
        var hintScore = 0.0
        if let hints = request.hints {
            let pairs: [(String, Double?, PolicyDocument.HintRule?)] = [
                ("expected_wait_s", hints.expectedWaitSeconds, policy.hints.expectedWaitSeconds),
                ("sources", hints.sources.map(Double.init), policy.hints.sources),
                ("steps", hints.steps.map(Double.init), policy.hints.steps),
                ("tools", hints.tools.map(Double.init), policy.hints.tools),
            ]
            for (name, value, hintRule) in pairs {
                guard let value, let hintRule else { continue }
                let pull: Decision
                if let d = hintRule.detachAt, value >= d {
                    pull = .detach
                } else if let i = hintRule.inlineAt, value <= i {
                    pull = .inline
                } else {
                    continue
                }
                hintScore += pull == .detach ? hintRule.weight : -hintRule.weight
                hits.append(
                    CueMatch(
                        family: "hints", cue: name, trigger: pull == .detach ? hintRule.trigger : nil,
                        pull: pull, weight: hintRule.weight, text: "\(name)=\(Self.number(value))"))
            }
        }

        let score = wording + hintScore
        let policyDecision: Decision = score >= rule.threshold ? .detach : .inline
        let forced = request.hints?.force
        let decision = forced ?? policyDecision

        hits.sort { a, b in
            if a.family == "hints" && b.family != "hints" { return true }
            if b.family == "hints" && a.family != "hints" { return false }
            if a.weight != b.weight { return a.weight > b.weight }
            return (a.family, a.cue) < (b.family, b.cue)
        }
        let triggers = Array(Set(hits.filter { $0.pull == .detach }.compactMap(\.trigger))).sorted()
        let distance = abs(score - rule.threshold)
        let confidence =
            forced != nil ? 1.0 : Self.round(1.0 / (1.0 + exp(-distance / rule.confidenceScale)), 3)

        let reason = Self.reason(
            decision: decision, policyDecision: policyDecision, forced: forced != nil, hits: hits,
            score: score, threshold: rule.threshold, labels: labels)

        return AdmissionDecision(
            decision: decision, policyDecision: policyDecision, triggers: triggers, cues: hits,
            confidence: confidence, reason: reason, policyVersion: policy.version,
            forced: forced != nil, score: Self.round(score, 3))
    }

    // MARK: - Reason

    static func reason(
        decision: Decision, policyDecision: Decision, forced: Bool, hits: [CueMatch], score: Double,
        threshold: Double, labels: [String: String]
    ) -> String {
        // Groups cues by family: `scope over many things "every shard", "all hosts"`.
        func list(_ hs: [CueMatch]) -> String {
            var order: [String] = []
            var texts: [String: [String]] = [:]
            for hit in hs {
                let key = hit.family == "hints" ? "hint" : (labels[hit.family] ?? hit.family)
                if texts[key] == nil {
                    order.append(key)
                    texts[key] = []
                }
                let shown = hit.family == "hints" ? hit.text : "\"\(hit.text)\""
                if texts[key]!.count < 3 { texts[key]!.append(shown) }
            }
            let groups = order.prefix(4).map { "\($0) \(texts[$0]!.joined(separator: ", "))" }
            var joined: String
            switch groups.count {
            case 0: joined = ""
            case 1: joined = groups[0]
            default: joined = groups.dropLast().joined(separator: "; ") + " and " + groups.last!
            }
            if order.count > 4 { joined += " (+\(order.count - 4) more)" }
            return joined
        }
        func outweigh(_ hs: [CueMatch]) -> String { hs.count == 1 ? "outweighs" : "outweigh" }
        let toDetach = hits.filter { $0.pull == .detach }
        let toInline = hits.filter { $0.pull == .inline }
        let figures = "score \(number(round(score, 2))) vs threshold \(number(threshold))"

        let policyPart: String
        if policyDecision == .detach {
            policyPart =
                toInline.isEmpty
                ? "\(list(toDetach)) (\(figures))"
                : "\(list(toDetach)) \(outweigh(toDetach)) \(list(toInline)) (\(figures))"
        } else if !toInline.isEmpty {
            policyPart =
                toDetach.isEmpty
                ? "\(list(toInline)) (\(figures))"
                : "\(list(toInline)) \(outweigh(toInline)) \(list(toDetach)) (\(figures))"
        } else if !toDetach.isEmpty {
            policyPart = "only \(list(toDetach)) fired, below the detach threshold (\(figures))"
        } else {
            policyPart = "no cue for background work fired (\(figures))"
        }

        if forced {
            let verdict = policyDecision == decision ? "agreeing with" : "overriding"
            return
                "Forced \(decision.rawValue) by the caller's force hint, \(verdict) the policy's \(policyDecision.rawValue): \(policyPart)."
        }
        return (decision == .detach ? "Detach: " : "Inline: ") + policyPart + "."
    }

    /// The matched text without the clause punctuation around it (" ,.;:!?"); if that
    /// leaves nothing, only without surrounding spaces and tabs (`CharacterSet.whitespaces`).
    static func tidy(_ s: String) -> String {
        func trimmed(_ drop: (Unicode.Scalar) -> Bool) -> Substring.UnicodeScalarView {
            var view = Substring(s).unicodeScalars
            while let first = view.first, drop(first) { view.removeFirst() }
            while let last = view.last, drop(last) { view.removeLast() }
            return view
        }
        let junk = trimmed { " ,.;:!?".unicodeScalars.contains($0) }
        if !junk.isEmpty { return String(junk) }
        return String(trimmed { $0 == "\t" || $0.properties.generalCategory == .spaceSeparator })
    }

    static func round(_ x: Double, _ places: Int) -> Double {
        let f = pow(10.0, Double(places))
        return (x * f).rounded() / f
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded(), abs(x) < 1e15 { return String(Int(x)) }
        return String(round(x, 2))
    }
}
