import Foundation

/// The policy flattened for the byte engine's per-request loop (`PolicyEngine.decideFast`):
/// cues in one array with plain fields, their prefilters as one `CueGate`, the evidence's
/// sort order and the reason's group of every cue computed once. The loop then reads values
/// instead of copying family structs, optional prefilters and dictionaries per cue, which was
/// a fifth of a decision in retains, releases and hashing.
final class BytePlan: Sendable {
    struct Cue: Sendable {
        let id: String
        let family: Int
        let weight: Double
        let minCount: Int
        /// Index in `anchors`, or -1.
        let anchor: Int
        let feature: StructureFeature?
        let program: ByteRegex?
        /// Position of `(family, id)` in sorted order: the evidence's last tie-break.
        let rank: Int
        /// The reason's group (an index in `keys`).
        let key: Int
    }

    struct Family: Sendable {
        let name: String
        let pull: Decision
        let trigger: TriggerClass?
        let cap: Double
        let cues: Range<Int>
        let suppressedBy: [StructureFeature]
        /// Named "hints": sorted and shown as hints are (the reference compares the name).
        let isHints: Bool
    }

    /// A hint's place in the evidence order and the reason.
    struct Hint: Sendable {
        let name: String
        let rank: Int
    }

    let cues: [Cue]
    let families: [Family]
    /// Which cues' prefilters let them run on a request (cue `i` is bit `i`).
    let gate: CueGate
    let anchors: [ByteRegex]
    /// The reason's group names: family labels, and "hint".
    let keys: [String]
    let hintKey: Int
    /// expected_wait_s, sources, steps, tools.
    let hints: [Hint]

    init?(
        families source: [(
            name: String, label: String, pull: Decision, trigger: TriggerClass?, cap: Double, suppressedBy: [StructureFeature]
        )],
        cues sourceCues: [[(
            id: String, weight: Double, minCount: Int, prefilter: CuePrefilter?, anchor: String?, feature: StructureFeature?,
            program: ByteRegex?
        )]],
        anchors byName: [String: ByteRegex]
    ) {
        // Ranks: every (family, cue) pair, hints included, in the reference's `<` order.
        var pairs: [(String, String)] = []
        for (f, family) in source.enumerated() { for cue in sourceCues[f] { pairs.append((family.name, cue.id)) } }
        let hintNames = ["expected_wait_s", "sources", "steps", "tools"]
        for name in hintNames { pairs.append(("hints", name)) }
        let sorted = pairs.indices.sorted { pairs[$0] < pairs[$1] }
        var rankOf = [Int](repeating: 0, count: pairs.count)
        for (rank, index) in sorted.enumerated() { rankOf[index] = rank }

        var keys: [String] = ["hint"]
        func key(_ label: String) -> Int {
            if let i = keys.firstIndex(of: label) { return i }
            keys.append(label)
            return keys.count - 1
        }
        var anchorNames: [String] = []
        var anchors: [ByteRegex] = []
        var cues: [Cue] = []
        var filters: [CuePrefilter?] = []
        var families: [Family] = []
        var pair = 0
        for (f, family) in source.enumerated() {
            let isHints = family.name == "hints"
            let groupKey = isHints ? 0 : key(family.label)
            let start = cues.count
            for cue in sourceCues[f] {
                var anchorIndex = -1
                if let name = cue.anchor {
                    if let i = anchorNames.firstIndex(of: name) {
                        anchorIndex = i
                    } else {
                        guard let program = byName[name] else { return nil }
                        anchorNames.append(name)
                        anchors.append(program)
                        anchorIndex = anchors.count - 1
                    }
                }
                filters.append(cue.prefilter)
                if cue.feature == nil, cue.program == nil { return nil }
                cues.append(
                    Cue(
                        id: cue.id, family: f, weight: cue.weight, minCount: cue.minCount, anchor: anchorIndex,
                        feature: cue.feature, program: cue.program, rank: rankOf[pair], key: groupKey))
                pair += 1
            }
            families.append(
                Family(
                    name: family.name, pull: family.pull, trigger: family.trigger, cap: family.cap, cues: start..<cues.count,
                    suppressedBy: family.suppressedBy, isHints: isHints))
        }
        self.hints = hintNames.enumerated().map { Hint(name: $0.element, rank: rankOf[pair + $0.offset]) }
        guard let gate = CueGate(filters: filters, needs: cues.map { $0.program?.needs }) else { return nil }
        self.cues = cues
        self.families = families
        self.gate = gate
        self.anchors = anchors
        self.keys = keys
        self.hintKey = 0
    }
}

extension PolicyEngine {
    /// One piece of evidence on the fast path, before it becomes a `CueMatch`.
    struct FastHit {
        /// Index in `plan.cues`, or `-1 - i` for hint `i`.
        var source: Int
        var weight: Double
        var pull: Decision
        var trigger: TriggerClass?
        var text: String
        var isHint: Bool
        var rank: Int
        var key: Int
    }

    /// The byte engine's whole decision for an ASCII request, nil when the request is not
    /// ASCII or the matcher's step budget ran out (the caller then takes the reference
    /// path). Same answer as `decideWithICU`, byte for byte: `ByteEngineTests`.
    func decideFast(_ request: AdmissionRequest, plan: BytePlan) -> AdmissionDecision? {
        // Normalisation (whitespace folded, trimmed) and lowercasing in one pass over bytes; the
        // reference does the same for ASCII text (`normalize`, then `lowercased`).
        var bytes: [UInt8] = []
        var ascii = true
        var source = request.text
        source.withUTF8 { raw in
            bytes.reserveCapacity(raw.count)
            var lastWasSpace = true
            for b in raw {
                if b >= 0x80 {
                    ascii = false
                    return
                }
                if b == 0x20 || (b >= 0x09 && b <= 0x0D) {
                    if !lastWasSpace { bytes.append(0x20) }
                    lastWasSpace = true
                } else {
                    bytes.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
                    lastWasSpace = false
                }
            }
            while bytes.last == 0x20 { bytes.removeLast() }
        }
        guard ascii else { return nil }
        return bytes.withUnsafeBufferPointer { t -> AdmissionDecision? in
            let allowed = UnsafeMutablePointer<UInt64>.allocate(capacity: plan.gate.words)
            defer { allowed.deallocate() }
            plan.gate.allowed(t, into: allowed)
            let structure = RequestStructure(bytes: t)
            var scratch = ByteRegex.Scratch(budget: Self.byteBudget)
            var heads = [ByteHeads?](repeating: nil, count: plan.anchors.count)
            var hits: [FastHit] = []
            var wording = 0.0
            let outcome: Bool = plan.cues.withUnsafeBufferPointer { cues in
                plan.families.withUnsafeBufferPointer { families in
                    for fi in families.indices {
                        if !families[fi].suppressedBy.isEmpty, families[fi].suppressedBy.contains(where: structure.holds) { continue }
                        var familyTotal = 0.0
                        for ci in families[fi].cues {
                            if allowed[ci >> 6] & (1 << UInt64(ci & 63)) == 0 { continue }
                            let shown: String
                            if let feature = cues[ci].feature {
                                guard let evidence = structure.evidence[feature] else { continue }
                                shown = Self.tidy(evidence)
                            } else {
                                let program = cues[ci].program!
                                let minCount = cues[ci].minCount
                                let anchor = cues[ci].anchor
                                if anchor >= 0 {
                                    if heads[anchor] == nil {
                                        guard let made = ByteHeads(anchor: plan.anchors[anchor], text: t, &scratch) else {
                                            return false
                                        }
                                        heads[anchor] = made
                                    }
                                    guard let found = heads[anchor]!.match(program, minCount: minCount, text: t, &scratch) else {
                                        return false
                                    }
                                    guard found.count >= minCount && !found.isEmpty else { continue }
                                    shown = Self.tidy(found.prefix(4).map { Self.tidy($0) }.joined(separator: " … "))
                                } else if minCount <= 1 {
                                    switch program.find(in: t, from: 0, &scratch) {
                                    case .outOfBudget: return false
                                    case .none: continue
                                    case .matched(let m): shown = Self.tidyBytes(t, m.group1 ?? m.start..<m.end)
                                    }
                                } else {
                                    guard let all = program.findAll(in: t, limit: minCount, &scratch) else { return false }
                                    guard all.count >= minCount else { continue }
                                    shown = Self.tidy(
                                        all.prefix(4).map { Self.tidyBytes(t, $0.start..<$0.end) }.joined(separator: " … "))
                                }
                            }
                            familyTotal += cues[ci].weight
                            hits.append(
                                FastHit(
                                    source: ci, weight: cues[ci].weight, pull: families[fi].pull, trigger: families[fi].trigger,
                                    text: shown, isHint: families[fi].isHints, rank: cues[ci].rank, key: cues[ci].key))
                        }
                        let capped = Swift.min(familyTotal, families[fi].cap)
                        wording += families[fi].pull == .detach ? capped : -capped
                    }
                    return true
                }
            }
            guard outcome else { return nil }
            let cap = policy.decision.wordingCap
            wording = Swift.max(-cap, Swift.min(cap, wording))
            return concludeFast(request, hits: &hits, wording: wording, plan: plan)
        }
    }

    /// `tidy` of the text at `range` of an ASCII buffer: without the clause punctuation around
    /// it, or if that leaves nothing, only without surrounding spaces and tabs.
    static func tidyBytes(_ t: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        func junk(_ b: UInt8) -> Bool {
            b == 0x20 || b == 0x2C || b == 0x2E || b == 0x3B || b == 0x3A || b == 0x21 || b == 0x3F
        }
        var lo = range.lowerBound, hi = range.upperBound
        while lo < hi, junk(t[lo]) { lo += 1 }
        while hi > lo, junk(t[hi - 1]) { hi -= 1 }
        if lo == hi {
            lo = range.lowerBound
            hi = range.upperBound
            while lo < hi, t[lo] == 0x20 || t[lo] == 0x09 { lo += 1 }
            while hi > lo, t[hi - 1] == 0x20 || t[hi - 1] == 0x09 { hi -= 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: t[lo..<hi]), as: UTF8.self)
    }

    /// `conclude` for the fast path: the same hints, score, order, triggers, confidence and
    /// reason, with the order from precomputed ranks and the reason written into one string.
    func concludeFast(_ request: AdmissionRequest, hits: inout [FastHit], wording: Double, plan: BytePlan) -> AdmissionDecision {
        let rule = policy.decision
        var hintScore = 0.0
        if let hints = request.hints {
            let pairs: [(Double?, PolicyDocument.HintRule?)] = [
                (hints.expectedWaitSeconds, policy.hints.expectedWaitSeconds),
                (hints.sources.map(Double.init), policy.hints.sources),
                (hints.steps.map(Double.init), policy.hints.steps),
                (hints.tools.map(Double.init), policy.hints.tools),
            ]
            for (i, (value, hintRule)) in pairs.enumerated() {
                guard let value, let hintRule else { continue }
                let pull: Decision
                if let d = hintRule.detachAt, value >= d {
                    pull = .detach
                } else if let l = hintRule.inlineAt, value <= l {
                    pull = .inline
                } else {
                    continue
                }
                hintScore += pull == .detach ? hintRule.weight : -hintRule.weight
                let name = plan.hints[i].name
                hits.append(
                    FastHit(
                        source: -1 - i, weight: hintRule.weight, pull: pull, trigger: pull == .detach ? hintRule.trigger : nil,
                        text: "\(name)=\(Self.number(value))", isHint: true, rank: plan.hints[i].rank, key: plan.hintKey))
            }
        }
        let score = wording + hintScore
        let policyDecision: Decision = score >= rule.threshold ? .detach : .inline
        let forced = request.hints?.force
        let decision = forced ?? policyDecision

        hits.sort { a, b in
            if a.isHint != b.isHint { return a.isHint }
            if a.weight != b.weight { return a.weight > b.weight }
            return a.rank < b.rank
        }
        var triggers: [TriggerClass] = []
        for h in hits where h.pull == .detach {
            if let t = h.trigger, !triggers.contains(t) { triggers.append(t) }
        }
        triggers.sort()
        let distance = abs(score - rule.threshold)
        let confidence = forced != nil ? 1.0 : Self.round(1.0 / (1.0 + exp(-distance / rule.confidenceScale)), 3)

        var detachCount = 0
        for h in hits where h.pull == .detach { detachCount += 1 }
        let inlineCount = hits.count - detachCount
        var reason = ""
        reason.reserveCapacity(256)
        if let forced {
            reason += "Forced "
            reason += forced.rawValue
            reason += " by the caller's force hint, "
            reason += policyDecision == decision ? "agreeing with" : "overriding"
            reason += " the policy's "
            reason += policyDecision.rawValue
            reason += ": "
        } else {
            reason += decision == .detach ? "Detach: " : "Inline: "
        }
        func list(_ pull: Decision) {
            Self.appendGroups(&reason, hits: hits, pull: pull, keys: plan.keys)
        }
        if policyDecision == .detach {
            list(.detach)
            if inlineCount > 0 {
                reason += detachCount == 1 ? " outweighs " : " outweigh "
                list(.inline)
            }
        } else if inlineCount > 0 {
            list(.inline)
            if detachCount > 0 {
                reason += inlineCount == 1 ? " outweighs " : " outweigh "
                list(.detach)
            }
        } else if detachCount > 0 {
            reason += "only "
            list(.detach)
            reason += " fired, below the detach threshold"
        } else {
            reason += "no cue for background work fired"
        }
        reason += " (score "
        reason += Self.number(Self.round(score, 2))
        reason += " vs threshold "
        reason += Self.number(rule.threshold)
        reason += ")."

        var cues: [CueMatch] = []
        cues.reserveCapacity(hits.count)
        for h in hits {
            if h.source >= 0 {
                let cue = plan.cues[h.source]
                cues.append(
                    CueMatch(
                        family: plan.families[cue.family].name, cue: cue.id, trigger: h.trigger, pull: h.pull, weight: h.weight,
                        text: h.text))
            } else {
                cues.append(
                    CueMatch(
                        family: "hints", cue: plan.hints[-1 - h.source].name, trigger: h.trigger, pull: h.pull, weight: h.weight,
                        text: h.text))
            }
        }
        return AdmissionDecision(
            decision: decision, policyDecision: policyDecision, triggers: triggers, cues: cues, confidence: confidence,
            reason: reason, policyVersion: policy.version, forced: forced != nil, score: Self.round(score, 3))
    }

    /// The reason's list of one side's evidence, as `reason(…)`'s `list` writes it: cues grouped
    /// by label in order of first appearance, at most three texts a group and four groups.
    static func appendGroups(_ s: inout String, hits: [FastHit], pull: Decision, keys: [String]) {
        var order: [Int] = []
        for h in hits where h.pull == pull && !order.contains(h.key) { order.append(h.key) }
        let shown = Swift.min(4, order.count)
        for g in 0..<shown {
            if g > 0 { s += g == shown - 1 ? " and " : "; " }
            s += keys[order[g]]
            s += " "
            var n = 0
            for h in hits where h.pull == pull && h.key == order[g] {
                if n == 3 { break }
                if n > 0 { s += ", " }
                if h.isHint {
                    s += h.text
                } else {
                    s += "\""
                    s += h.text
                    s += "\""
                }
                n += 1
            }
        }
        if order.count > 4 { s += " (+\(order.count - 4) more)" }
    }
}
