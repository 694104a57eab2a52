/// The cue prefilters of one policy turned around: from each literal code to the cues it lets
/// run, so one pass over a request's letters says which cues may match, instead of every cue
/// probing the request's `Grams` with each of its codes. Same answer as
/// `CuePrefilter.allows(Grams(text))` for every cue (`CueGateTests`); built once per engine.
///
/// A cue may also carry `MatchNeeds` (literals any match of its byte program contains, wherever
/// they stand in the pattern): the gate then lets it run only when its prefilter allows it *and*
/// each of those conditions has a code in the text. Both kinds are conditions in one bit space:
/// condition `i < cues` is cue `i`'s prefilter, the rest are needs; the pass over the text sets the
/// conditions it meets, and a cue runs when all of its conditions are met.
struct CueGate: Sendable {
    /// 64-bit words in one cue set.
    let words: Int
    /// 64-bit words in one condition set.
    private let conditionWords: Int
    /// Condition sets, `conditionWords` apiece; set 0 is empty.
    private let sets: [UInt64]
    /// Conditions met by every text: cues with no prefilter.
    private let always: [UInt64]
    /// Index in `sets` (in units of one set) of the conditions a 2- or 3-letter `Grams.code`
    /// meets, 0 for none.
    private let anywhere: [UInt16]
    /// The same for a byte that is not a letter (`GateCode.byte`), 0 for none.
    private let bytes: [UInt16]
    /// Word-prefix codes (`Grams.wordCode`) and their set index, open addressing (code 0: empty).
    private let prefixCodes: [Int]
    private let prefixSets: [UInt16]
    private let prefixMask: Int
    /// Cue `i`'s need conditions are `needIndex[needStart[i]..<needStart[i + 1]]`.
    private let needStart: [Int32]
    private let needIndex: [Int32]
    /// True when some cue has needs (else the allowed cues are the prefilter conditions).
    private let hasNeeds: Bool
    /// The bits of cues in the last cue word (the rest of that word holds need conditions).
    private let lastWordMask: UInt64

    /// `filters[i]`: cue `i`'s prefilter, nil when it has none (it always runs); `needs[i]`: what
    /// its matches must contain (none: the prefilter alone decides).
    init?(filters: [CuePrefilter?], needs: [MatchNeeds?] = []) {
        let cueCount = filters.count
        let words = (cueCount + 63) / 64
        self.words = words
        var needStart: [Int32] = [0]
        var needIndex: [Int32] = []
        var needCodes: [[GateCode]] = []
        for cue in 0..<cueCount {
            if cue < needs.count, let need = needs[cue] {
                for condition in need.conditions {
                    let codes = condition.compactMap(GateCode.init)
                    guard codes.count == condition.count, !codes.isEmpty else { continue }
                    needIndex.append(Int32(cueCount + needCodes.count))
                    needCodes.append(codes)
                }
            }
            needStart.append(Int32(needIndex.count))
        }
        let conditionWords = (cueCount + needCodes.count + 63) / 64
        self.conditionWords = conditionWords
        var always = [UInt64](repeating: 0, count: conditionWords)
        var byAnywhere: [Int: [UInt64]] = [:]
        var byByte: [Int: [UInt64]] = [:]
        var byPrefix: [Int: [UInt64]] = [:]
        func add(_ table: inout [Int: [UInt64]], _ code: Int, _ condition: Int) {
            table[code, default: [UInt64](repeating: 0, count: conditionWords)][condition / 64] |= 1 << UInt64(condition % 64)
        }
        for (cue, filter) in filters.enumerated() {
            guard let filter else {
                always[cue / 64] |= 1 << UInt64(cue % 64)
                continue
            }
            for code in filter.anywhere { add(&byAnywhere, code, cue) }
            for code in filter.wordStarts { add(&byPrefix, code, cue) }
        }
        for (j, codes) in needCodes.enumerated() {
            for code in codes {
                switch code {
                case .gram(let g): add(&byAnywhere, g, cueCount + j)
                case .byte(let b): add(&byByte, Int(b), cueCount + j)
                }
            }
        }
        var table = [UInt64](repeating: 0, count: conditionWords)
        var index: [[UInt64]: Int] = [:]
        func setIndex(_ set: [UInt64]) -> Int {
            if let i = index[set] { return i }
            let i = table.count / conditionWords
            table += set
            index[set] = i
            return i
        }
        var anywhere = [UInt16](repeating: 0, count: Grams.size)
        for (code, set) in byAnywhere { anywhere[code] = UInt16(truncatingIfNeeded: setIndex(set)) }
        var bytes = [UInt16](repeating: 0, count: 128)
        for (code, set) in byByte { bytes[code] = UInt16(truncatingIfNeeded: setIndex(set)) }
        var size = 16
        while size < byPrefix.count * 4 { size *= 2 }
        var prefixCodes = [Int](repeating: 0, count: size)
        var prefixSets = [UInt16](repeating: 0, count: size)
        for (code, set) in byPrefix {
            var i = Grams.slot(code, size - 1)
            while prefixCodes[i] != 0 { i = (i + 1) & (size - 1) }
            prefixCodes[i] = code
            prefixSets[i] = UInt16(truncatingIfNeeded: setIndex(set))
        }
        guard table.count / conditionWords <= Int(UInt16.max) else { return nil }
        self.sets = table
        self.always = always
        self.anywhere = anywhere
        self.bytes = bytes
        self.prefixCodes = prefixCodes
        self.prefixSets = prefixSets
        self.prefixMask = size - 1
        self.needStart = needStart
        self.needIndex = needIndex
        self.hasNeeds = !needIndex.isEmpty
        self.lastWordMask = cueCount % 64 == 0 ? ~0 : (1 << UInt64(cueCount % 64)) - 1
    }

    /// The cues allowed to run on `text` (bit `i % 64` of word `i / 64` for cue `i`), into
    /// `allowed` (`words` long). Every cue when the text has a non-ASCII byte, as `Grams` does.
    func allowed(_ text: UnsafeBufferPointer<UInt8>, into allowed: UnsafeMutablePointer<UInt64>) {
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: conditionWords) { met in
            let met = met.baseAddress!
            guard self.met(text, into: met) else {
                for w in 0..<words { allowed[w] = ~0 }
                return
            }
            // Cue `i` runs when its prefilter (condition `i`) and each of its needs are met.
            for w in 0..<words { allowed[w] = met[w] }
            if words > 0 { allowed[words - 1] &= lastWordMask }
            guard hasNeeds else { return }
            needStart.withUnsafeBufferPointer { starts in
                needIndex.withUnsafeBufferPointer { index in
                    for w in 0..<words {
                        var bits = allowed[w]
                        var scan = bits
                        while scan != 0 {
                            let bit = scan.trailingZeroBitCount
                            scan &= scan &- 1
                            let cue = w &* 64 &+ bit
                            for k in Int(starts[cue])..<Int(starts[cue &+ 1]) {
                                let c = Int(index[k])
                                if met[c >> 6] & (1 << UInt64(c & 63)) == 0 {
                                    bits &= ~(1 << UInt64(bit))
                                    break
                                }
                            }
                        }
                        allowed[w] = bits
                    }
                }
            }
        }
    }

    /// The conditions `text` meets, into `met` (`conditionWords` long); false when the text has
    /// a non-ASCII byte (then the gate lets every cue run).
    private func met(_ text: UnsafeBufferPointer<UInt8>, into met: UnsafeMutablePointer<UInt64>) -> Bool {
        let words = conditionWords
        return sets.withUnsafeBufferPointer { sets in
            anywhere.withUnsafeBufferPointer { anywhere in
                bytes.withUnsafeBufferPointer { bytes in
                    prefixCodes.withUnsafeBufferPointer { prefixCodes in
                        prefixSets.withUnsafeBufferPointer { prefixSets in
                            for w in 0..<words { met[w] = always[w] }
                            @inline(__always) func or(_ set: Int) {
                                let base = set &* words
                                for w in 0..<words { met[w] |= sets[base &+ w] }
                            }
                            @inline(__always) func prefix(_ code: Int) {
                                var i = Grams.slot(code, prefixMask)
                                while prefixCodes[i] != 0 {
                                    if prefixCodes[i] == code {
                                        or(Int(prefixSets[i]))
                                        return
                                    }
                                    i = (i &+ 1) & prefixMask
                                }
                            }
                            // The scan `Grams` is built with (`Grams.scan`), each hit looked up here.
                            return Grams.scan(
                                text,
                                gram: { code in
                                    let set = anywhere[code]
                                    if set != 0 { or(Int(set)) }
                                },
                                wordPrefix: prefix,
                                other: { byte in
                                    let set = bytes[Int(byte)]
                                    if set != 0 { or(Int(set)) }
                                })
                        }
                    }
                }
            }
        }
    }
}
