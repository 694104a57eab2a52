import Foundation

/// Interprets a `PolicyDocument`: scores a request's cues and hints and decides inline or
/// detach, with the evidence. Regexes are compiled once here; `decide` is pure and cheap.
public struct PolicyEngine: Sendable {
    public let policy: PolicyDocument
    private let families: [CompiledFamily]

    private struct CompiledCue: Sendable {
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
        var feature: StructureFeature? = nil
    }

    /// Macros used as leading anchors, compiled once.
    private let anchors: [String: NSRegularExpression]
    /// Family name → label, for reasons.
    private let labels: [String: String]

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
                    cues.append(
                        CompiledCue(
                            id: cue.id, regex: headRegex, weight: cue.weight, minCount: cue.minCount ?? 1,
                            prefilter: prefilter, anchor: macro))
                    continue
                }
                guard case .success(let expanded) = RegexCompiler.expand(cue.pattern, macros: policy.macros),
                    let regex = validated[expanded] ?? (try? RegexCompiler.compile(expanded))
                else { throw failure(cue.id) }
                cues.append(
                    CompiledCue(
                        id: cue.id, regex: regex, weight: cue.weight, minCount: cue.minCount ?? 1,
                        prefilter: prefilter, anchor: nil))
            }
            compiled.append(
                CompiledFamily(
                    name: family.name, label: family.label, pull: family.pull, trigger: family.trigger,
                    cap: family.max ?? .infinity, cues: cues,
                    suppressedBy: (family.suppressedBy ?? []).compactMap(StructureFeature.init(rawValue:))))
        }
        self.families = compiled
        self.anchors = anchors
        var labels: [String: String] = ["hints": "hint"]
        for f in compiled { labels[f.name] = f.label }
        self.labels = labels
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
    public func decide(_ request: AdmissionRequest) -> AdmissionDecision {
        // Cues are case-insensitive by matching lowercased text (see RegexCompiler.options).
        let text = Self.normalize(request.text).lowercased()
        let ns = text as NSString
        let range = NSRange(location: 0, length: ns.length)
        let rule = policy.decision
        let grams = Grams(text)
        var headsCache: [String: Heads] = [:]

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
                } else if let anchor = cue.anchor, let anchorRegex = anchors[anchor] {
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

    static func tidy(_ s: String) -> String {
        let junk = CharacterSet(charactersIn: " ,.;:!?")
        let trimmed = s.trimmingCharacters(in: junk)
        return trimmed.isEmpty ? s.trimmingCharacters(in: .whitespaces) : trimmed
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
