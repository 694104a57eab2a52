/// The cue prefilters of one policy turned around: from each literal code to the cues it lets
/// run, so one pass over a request's letters says which cues may match, instead of every cue
/// probing the request's `Grams` with each of its codes. Same answer as
/// `CuePrefilter.allows(Grams(text))` for every cue (`CueGateTests`); built once per engine.
struct CueGate: Sendable {
    /// 64-bit words in one cue set.
    let words: Int
    /// Cue sets, `words` apiece; set 0 is empty.
    private let sets: [UInt64]
    /// Cues with no prefilter: they always run.
    private let always: [UInt64]
    /// Index in `sets` (in units of one set) of the cues a 2- or 3-letter `Grams.code` lets
    /// run, 0 for none.
    private let anywhere: [UInt16]
    /// Word-prefix codes (`Grams.wordCode`) and their set index, open addressing (code 0: empty).
    private let prefixCodes: [Int]
    private let prefixSets: [UInt16]
    private let prefixMask: Int

    /// `filters[i]`: cue `i`'s prefilter, nil when it has none (it always runs).
    init?(filters: [CuePrefilter?]) {
        let words = (filters.count + 63) / 64
        self.words = words
        var always = [UInt64](repeating: 0, count: words)
        var byAnywhere: [Int: [UInt64]] = [:]
        var byPrefix: [Int: [UInt64]] = [:]
        func add(_ table: inout [Int: [UInt64]], _ code: Int, _ cue: Int, words: Int) {
            table[code, default: [UInt64](repeating: 0, count: words)][cue / 64] |= 1 << UInt64(cue % 64)
        }
        for (cue, filter) in filters.enumerated() {
            guard let filter else {
                always[cue / 64] |= 1 << UInt64(cue % 64)
                continue
            }
            for code in filter.anywhere { add(&byAnywhere, code, cue, words: words) }
            for code in filter.wordStarts { add(&byPrefix, code, cue, words: words) }
        }
        var table = [UInt64](repeating: 0, count: words)
        var index: [[UInt64]: Int] = [:]
        func setIndex(_ set: [UInt64]) -> Int {
            if let i = index[set] { return i }
            let i = table.count / words
            table += set
            index[set] = i
            return i
        }
        var anywhere = [UInt16](repeating: 0, count: Grams.size)
        for (code, set) in byAnywhere { anywhere[code] = UInt16(setIndex(set)) }
        var size = 16
        while size < byPrefix.count * 4 { size *= 2 }
        var prefixCodes = [Int](repeating: 0, count: size)
        var prefixSets = [UInt16](repeating: 0, count: size)
        for (code, set) in byPrefix {
            var i = Grams.slot(code, size - 1)
            while prefixCodes[i] != 0 { i = (i + 1) & (size - 1) }
            prefixCodes[i] = code
            prefixSets[i] = UInt16(setIndex(set))
        }
        guard table.count / words <= Int(UInt16.max) else { return nil }
        self.sets = table
        self.always = always
        self.anywhere = anywhere
        self.prefixCodes = prefixCodes
        self.prefixSets = prefixSets
        self.prefixMask = size - 1
    }

    /// The cues allowed to run on `text` (bit `i % 64` of word `i / 64` for cue `i`), into
    /// `allowed` (`words` long). Every cue when the text has a non-ASCII byte, as `Grams` does.
    func allowed(_ text: UnsafeBufferPointer<UInt8>, into allowed: UnsafeMutablePointer<UInt64>) {
        sets.withUnsafeBufferPointer { sets in
            anywhere.withUnsafeBufferPointer { anywhere in
                prefixCodes.withUnsafeBufferPointer { prefixCodes in
                    prefixSets.withUnsafeBufferPointer { prefixSets in
                        for w in 0..<words { allowed[w] = always[w] }
                        @inline(__always) func or(_ set: Int) {
                            let base = set &* words
                            for w in 0..<words { allowed[w] |= sets[base &+ w] }
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
                        // The scan of `Grams.init`: letter pairs and triples anywhere, the first
                        // two to four letters of each word.
                        var p2 = -1, p1 = -1
                        var inWord = false
                        var wordLetters = 0
                        var wordCode = 0
                        for byte in text {
                            if byte >= 0x80 {
                                for w in 0..<words { allowed[w] = ~0 }
                                return
                            }
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
                                        wordCode = wordCode * 27 + Int(lower - 96)
                                        wordLetters += 1
                                        if wordLetters >= 2 { prefix(wordCode) }
                                    } else {
                                        wordLetters = -1
                                    }
                                }
                            } else {
                                inWord = false
                            }
                            guard isLetter else {
                                p2 = -1
                                p1 = -1
                                continue
                            }
                            let c = Int(lower - 97)
                            if p1 >= 0 {
                                let two = anywhere[p1 &* 26 &+ c]
                                if two != 0 { or(Int(two)) }
                                if p2 >= 0 {
                                    let three = anywhere[676 &+ (p2 &* 26 &+ p1) &* 26 &+ c]
                                    if three != 0 { or(Int(three)) }
                                }
                            }
                            p2 = p1
                            p1 = c
                        }
                    }
                }
            }
        }
    }
}
