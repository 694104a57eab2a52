/// A word of at most 16 ASCII bytes packed into two integers, so the structure pass compares
/// and looks up words without making `String`s; a longer word packs to a key no listed word has.
struct PackedWord: Hashable, Sendable {
    var lo: UInt64
    var hi: UInt64

    /// No word of 16 bytes or fewer packs to this: text bytes are ASCII (< 0x80).
    static let long = PackedWord(lo: .max, hi: .max)

    init(lo: UInt64, hi: UInt64) {
        self.lo = lo
        self.hi = hi
    }

    /// The bytes of `t[start..<end]`, little-endian, zero-padded (words never contain a 0 byte).
    @inline(__always) init(_ t: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        let n = end - start
        guard n <= 16 else {
            self = .long
            return
        }
        var lo: UInt64 = 0, hi: UInt64 = 0
        var i = 0
        while i < n {
            let b = UInt64(t[start + i])
            if i < 8 { lo |= b << UInt64(8 * i) } else { hi |= b << UInt64(8 * (i - 8)) }
            i += 1
        }
        self.lo = lo
        self.hi = hi
    }

    init(_ word: String) {
        var bytes = Array(word.utf8)
        self = bytes.withUnsafeMutableBufferPointer { PackedWord(UnsafeBufferPointer($0), 0, $0.count) }
    }
}

/// A fixed set of words for byte-range look-ups: open addressing over packed words, built once.
struct PackedWordSet: Sendable {
    private let slots: [PackedWord]
    private let used: [Bool]
    private let mask: Int

    init<S: Sequence<String>>(_ words: S) {
        let list = Array(Set(words))
        var size = 16
        while size < list.count * 4 { size *= 2 }
        var slots = [PackedWord](repeating: PackedWord(lo: 0, hi: 0), count: size)
        var used = [Bool](repeating: false, count: size)
        for w in list {
            let key = PackedWord(w)
            var i = Self.hash(key) & (size - 1)
            while used[i] { i = (i + 1) & (size - 1) }
            slots[i] = key
            used[i] = true
        }
        self.slots = slots
        self.used = used
        self.mask = size - 1
    }

    @inline(__always) static func hash(_ k: PackedWord) -> Int {
        let h = (k.lo &* 0x9E37_79B9_7F4A_7C15) ^ (k.hi &* 0xC2B2_AE3D_27D4_EB4F)
        return Int(truncatingIfNeeded: h >> 32)
    }

    @inline(__always) func contains(_ k: PackedWord) -> Bool {
        var i = Self.hash(k) & mask
        while used[i] {
            if slots[i] == k { return true }
            i = (i + 1) & mask
        }
        return false
    }
}

extension RequestStructure {
    /// The same analysis as `init(_:)` (the reference, which the ICU engine still uses) on the
    /// bytes of normalized, lowercased ASCII text: words are byte ranges and look-ups packed
    /// integers, so a request costs no `String` per word. `StructureTests` compares the two on
    /// every labelled row and on generated requests.
    init(bytes t: UnsafeBufferPointer<UInt8>) {
        let scan = ByteSentences(t)
        let w = Words.shared
        let keys = scan.keys
        let sentenceCount = scan.sentences.count
        var imperative: String?
        var question = false
        var report: String?
        var event: String?
        var marker = false

        func quote(_ lo: Int, _ hi: Int) -> String {
            scan.quote(t, lo, Swift.min(hi, lo + 8))
        }
        func isPast(_ i: Int) -> Bool {
            let k = keys[i]
            if w.irregularPast.contains(k) { return true }
            let (s, e) = scan.ranges[i]
            return e - s > 4 && t[e - 2] == 0x65 && t[e - 1] == 0x64 && !w.baseFormEd.contains(k)  // "ed"
        }
        /// `stripFillers` of words `lo..<hi`: the index of the first word kept.
        func stripFillers(_ lo: Int, _ hi: Int) -> Int {
            var i = lo
            var afterPlease = false
            while i < hi {
                let first = keys[i]
                if w.fillers.contains(first) {
                    afterPlease = w.pleaseWords.contains(first)
                    i += 1
                } else if afterPlease, first == w.you || first == w.u, hi - i > 1, isImperative(i + 1, hi) {
                    afterPlease = false
                    i += 1
                } else if w.modals.contains(first), hi - i > 1, w.youShort.contains(keys[i + 1]) {
                    i += 2
                } else if first == w.i || first == w.we, hi - i > 3, w.needWant.contains(keys[i + 1]),
                    keys[i + 2] == w.you || keys[i + 2] == w.u, keys[i + 3] == w.to
                {
                    i += 4
                } else if first == w.help, hi - i > 1, keys[i + 1] == w.me {
                    i += 2
                } else if first == w.go, hi - i > 2, keys[i + 1] == w.ahead, keys[i + 2] == w.and {
                    i += 3
                } else {
                    break
                }
            }
            return i
        }
        func hasSuffix(_ i: Int, _ a: UInt8, _ b: UInt8) -> Bool {
            let (s, e) = scan.ranges[i]
            return e - s >= 2 && t[e - 2] == a && t[e - 1] == b
        }
        func isImperative(_ lo: Int, _ hi: Int) -> Bool {
            guard lo < hi else { return false }
            let first = keys[lo]
            if first == w.lmk || first == w.pls || imperativeDo(lo, hi) { return true }
            if w.closedClass.contains(first) || (isPast(lo) && !w.sameBaseAndPast.contains(first)) { return false }
            let (s, e) = scan.ranges[lo]
            let c = t[s]
            guard c >= UInt8(ascii: "a"), c <= UInt8(ascii: "z") else { return false }
            let count = e - s
            if count > 4 && hasSuffix(lo, UInt8(ascii: "n"), UInt8(ascii: "g")) && t[e - 3] == UInt8(ascii: "i") { return false }
            if t[e - 1] == UInt8(ascii: "s") && !hasSuffix(lo, UInt8(ascii: "s"), UInt8(ascii: "s"))
                && !hasSuffix(lo, UInt8(ascii: "u"), UInt8(ascii: "s")) && count > 2
            {
                return false
            }
            if hasSuffix(lo, UInt8(ascii: "'"), UInt8(ascii: "s")) || hasSuffix(lo, UInt8(ascii: "l"), UInt8(ascii: "y")) { return false }
            if hi - lo > 1 {
                if isPast(lo + 1) || w.subjectFollowers.contains(keys[lo + 1]) { return false }
                if w.pronounContractions.contains(keys[lo + 1]) { return false }  // subjectPronounFollows
            }
            if subjectThenPast(lo, hi) { return false }
            return true
        }
        /// `RequestStructure.subjectThenPast` on words `lo..<hi`.
        func subjectThenPast(_ lo: Int, _ hi: Int) -> Bool {
            guard hi - lo >= 4, w.subjectPrepositions.contains(keys[lo + 1]) else { return false }
            var i = lo + 2
            while i < Swift.min(hi, lo + 12) {
                let k = keys[i]
                if w.clauseOpeners.contains(k) { return false }
                let (s, e) = scan.ranges[i]
                if (isPast(i) && !(s..<e).contains(where: { t[$0] == UInt8(ascii: "-") })) || k == w.was || k == w.were {
                    return i + 1 == hi || !w.participleFollowers.contains(keys[i + 1])
                }
                i += 1
            }
            return false
        }
        /// The words `lo..<hi` as `String`s, for the few shapes checked on rare sentences only.
        func strings(_ lo: Int, _ hi: Int) -> [String] {
            (lo..<hi).map { k in
                let (s, e) = scan.ranges[k]
                return String(decoding: UnsafeBufferPointer(rebasing: t[s..<e]), as: UTF8.self)
            }
        }
        /// `RequestStructure.isAttributive` on word `i`.
        func isAttributive(_ i: Int) -> Bool {
            if w.attributiveDeterminers.contains(keys[i]) { return true }
            let (s, e) = scan.ranges[i]
            return e - s > 3 && hasSuffix(i, UInt8(ascii: "'"), UInt8(ascii: "s")) && !w.contractedIs.contains(keys[i])
        }
        func isReport(_ lo: Int, _ hi: Int) -> Bool {
            guard lo < hi else { return false }
            if isPast(lo) { return true }
            var i = lo + 1
            while i < Swift.min(hi, lo + 12) {
                if isPast(i) && !isAttributive(i - 1) {
                    for j in lo..<i where w.reportBlockers.contains(keys[j]) { return false }
                    return true
                }
                i += 1
            }
            return false
        }

        for index in 0..<sentenceCount {
            let sentence = scan.sentences[index]
            var lo = sentence.lo
            let hi = sentence.hi
            if index == 0,
                let stripped = sentenceCount > 1 && hi - lo <= 6 && RequestStructure.isReportHeading(strings(lo, hi))
                    ? hi : scan.stripMarker(lo, hi, wholeSentence: sentenceCount > 1, w)
            {
                marker = true
                lo = stripped
                if lo == hi { continue }
            }
            let coreLo = stripFillers(lo, hi)
            if sentence.question,
                let polite = RequestStructure.politeRequest(strings(lo, hi), comma: sentence.comma >= 0 ? sentence.comma : nil)
            {
                if imperative == nil { imperative = RequestStructure.quote(polite) }
                continue
            }
            if sentence.question || (coreLo < hi && w.questionWords.contains(keys[coreLo]) && !imperativeDo(coreLo, hi)) {
                question = true
                continue
            }
            guard coreLo < hi else { continue }
            if isImperative(coreLo, hi) {
                if imperative == nil { imperative = quote(coreLo, hi) }
                continue
            }
            // `comma` indexes the sentence's words but is applied to `words` after a marker was
            // stripped, and to `core` after fillers were: as the reference does.
            if sentence.comma >= 0, sentence.comma < hi - lo, sentence.comma > 0,
                w.subordinators.contains(keys[coreLo]) || !isReport(lo, lo + sentence.comma)  // reportBeforeComma
            {
                let comma = sentence.comma
                let mainLo = stripFillers(lo + comma, hi)
                if isImperative(mainLo, hi) {
                    if imperative == nil { imperative = quote(mainLo, hi) }
                    let first = keys[coreLo]
                    if w.subordinators.contains(first) || (first == w.as && hi - coreLo > 2 && keys[coreLo + 1] == w.soon) {
                        var you = false
                        for j in coreLo..<(coreLo + Swift.min(comma, hi - coreLo)) where keys[j] == w.you || keys[j] == w.u {
                            you = true
                            break
                        }
                        if !you, event == nil {
                            event = quote(coreLo, Swift.min(hi, coreLo + 6)) + " …, " + quote(mainLo, Swift.min(hi, mainLo + 3))
                        }
                    }
                    continue
                }
            }
            if let (j, mainLo) = eventWithoutComma(coreLo, hi) {
                if imperative == nil { imperative = quote(mainLo, hi) }
                if event == nil {
                    event = quote(coreLo, Swift.min(coreLo + j, coreLo + 6)) + " …, " + quote(mainLo, Swift.min(hi, mainLo + 3))
                }
                continue
            }
            if report == nil, isReport(coreLo, hi) { report = quote(coreLo, hi) }
        }
        /// Packed pre-test for `RequestStructure.indirectInventory`: "whether", "which" or "if any", a state word and
        /// "our/my/we" in the sentence; only then are its words made `String`s.
        func embeddedInventoryCandidate(_ lo: Int, _ hi: Int) -> Bool {
            var opener = false, state = false, owner = false
            for k in lo..<hi {
                let key = keys[k]
                if w.embeddedQuestion.contains(key) && (key != w.if || (k + 1 < hi && keys[k + 1] == w.any)) { opener = true }
                if w.stateWords.contains(key) { state = true }
                if w.ownerWords.contains(key) { owner = true }
            }
            return opener && state && owner
        }
        /// `RequestStructure.imperativeDo` on words `lo..<hi`.
        func imperativeDo(_ lo: Int, _ hi: Int) -> Bool {
            hi - lo > 2 && keys[lo] == w.do && w.doObjects.contains(keys[lo + 1])
        }
        /// `RequestStructure.isEventVerb` on word `i`.
        func isEventVerb(_ i: Int) -> Bool {
            if w.eventAuxiliaries.contains(keys[i]) || isPast(i) { return true }
            let (s, e) = scan.ranges[i]
            return e - s > 3 && t[e - 1] == UInt8(ascii: "s") && !hasSuffix(i, UInt8(ascii: "s"), UInt8(ascii: "s"))
                && !hasSuffix(i, UInt8(ascii: "u"), UInt8(ascii: "s")) && !hasSuffix(i, UInt8(ascii: "'"), UInt8(ascii: "s"))
        }
        /// `RequestStructure.actionAfterEvent` on the words from `lo`.
        func actionAfterEvent(_ lo: Int, _ j: Int) -> Bool {
            guard j >= 3, w.actionVerbs.contains(keys[lo + j]), !w.actionBlockers.contains(keys[lo + j - 1]) else { return false }
            for k in (lo + 1)..<(lo + j) where isEventVerb(k) { return true }
            return false
        }
        /// `RequestStructure.eventWithoutComma` on words `lo..<hi`: the event's length and where the action starts.
        func eventWithoutComma(_ lo: Int, _ hi: Int) -> (Int, Int)? {
            let first = keys[lo]
            guard w.subordinators.contains(first) || (first == w.as && hi - lo > 2 && keys[lo + 1] == w.soon) else { return nil }
            var j = 2
            while j < hi - lo {
                if w.actionOpeners.contains(keys[lo + j]) || actionAfterEvent(lo, j) {
                    for k in lo..<(lo + j) where keys[k] == w.you || keys[k] == w.u { return nil }
                    let mainLo = stripFillers(lo + j, hi)
                    if isImperative(mainLo, hi) { return (j, mainLo) }
                }
                j += 1
            }
            return nil
        }
        if let imperative { evidence[.requestForm] = imperative }
        if imperative == nil, question, let last = scan.sentences.last(where: \.question) {
            evidence[.questionForm] = quote(last.lo, last.hi)
        }
        if let event { evidence[.eventThenAction] = event }
        // The two shapes below are rare enough to check on `String` words, after a packed test.
        if imperative != nil,
            keys.contains(where: w.collectionWords.contains)
                || scan.ranges.contains(where: { (s, e) in  // "25-ish", "60-odd", "40-plus": `isManyCount`
                    e - s >= 6 && t[s] >= 0x30 && t[s] <= 0x39 && t[s + 1] >= 0x30 && t[s + 1] <= 0x39
                        && (t[e - 1] == UInt8(ascii: "d") || t[e - 1] == UInt8(ascii: "h") || t[e - 1] == UInt8(ascii: "s"))
                })
        {
            let sentences = scan.sentences.map {
                RequestStructure.Sentence(
                    words: strings($0.lo, $0.hi), endsWithQuestion: $0.question, firstCommaWord: $0.comma >= 0 ? $0.comma : nil)
            }
            if let many = RequestStructure.workOnMany(sentences) { evidence[.workOnMany] = many }
        }
        if imperative == nil,
            let inventory = scan.sentences.first(where: {
                ($0.question && RequestStructure.inventoryQuestion(strings($0.lo, $0.hi)))
                    || (embeddedInventoryCandidate($0.lo, $0.hi) && RequestStructure.indirectInventory(strings($0.lo, $0.hi)) != nil)
            })
        {
            evidence[.inventoryQuestion] = quote(inventory.lo, inventory.hi)
        }
        if let literal = RequestStructure.givenLiteral(bytes: t) { evidence[.givenLiteral] = literal }
        if imperative == nil, !question {
            if let report {
                evidence[.report] = report
            } else if marker, sentenceCount > 0 {
                evidence[.report] = "fyi"
            }
        }
    }

    /// The word lists of the reference analysis, packed once.
    struct Words: Sendable {
        static let shared = Words()

        let fillers = PackedWordSet(RequestStructure.fillers)
        let questionWords = PackedWordSet(RequestStructure.questionWords)
        let subordinators = PackedWordSet(RequestStructure.subordinators)
        let closedClass = PackedWordSet(RequestStructure.closedClass)
        let irregularPast = PackedWordSet(RequestStructure.irregularPast)
        let baseFormEd = PackedWordSet(RequestStructure.baseFormEd)
        let modals = PackedWordSet(["can", "could", "would", "will"])
        let youShort = PackedWordSet(["you", "u", "ya"])
        let needWant = PackedWordSet(["need", "want", "would", "'d"])
        let subjectFollowers = PackedWordSet(RequestStructure.subjectFollowers)
        let reportBlockers = PackedWordSet(RequestStructure.reportBlockers)
        let attributiveDeterminers = PackedWordSet(RequestStructure.attributiveDeterminers)
        let contractedIs = PackedWordSet(RequestStructure.contractedIs)
        let markers: [[PackedWord]] = RequestStructure.markers.map { $0.map(PackedWord.init) }
        let headings: [[PackedWord]] = RequestStructure.headings.map { $0.map(PackedWord.init) }
        let i = PackedWord("i"), we = PackedWord("we"), you = PackedWord("you"), u = PackedWord("u"), to = PackedWord("to")
        let help = PackedWord("help"), me = PackedWord("me"), go = PackedWord("go"), ahead = PackedWord("ahead")
        let and = PackedWord("and"), lmk = PackedWord("lmk"), pls = PackedWord("pls"), `as` = PackedWord("as")
        let soon = PackedWord("soon"), `do` = PackedWord("do")
        let doObjects = PackedWordSet(RequestStructure.doObjects)
        let was = PackedWord("was"), were = PackedWord("were")
        let pronounContractions = PackedWordSet(RequestStructure.pronounContractions)
        let subjectPrepositions = PackedWordSet(RequestStructure.subjectPrepositions)
        let clauseOpeners = PackedWordSet(RequestStructure.clauseOpeners)
        let participleFollowers = PackedWordSet(RequestStructure.participleFollowers)
        let actionOpeners = PackedWordSet(RequestStructure.actionOpeners)
        let actionVerbs = PackedWordSet(RequestStructure.actionVerbs)
        let actionBlockers = PackedWordSet(RequestStructure.actionBlockers)
        let eventAuxiliaries = PackedWordSet(RequestStructure.eventAuxiliaries)
        let sameBaseAndPast = PackedWordSet(RequestStructure.sameBaseAndPast)
        /// Words that can open an embedded inventory question ("whether", "which", "if any").
        let embeddedQuestion = PackedWordSet(["whether", "which", "if"])
        let stateWords = PackedWordSet(RequestStructure.stateWords)
        let ownerWords = PackedWordSet(RequestStructure.ownerWords)
        let pleaseWords = PackedWordSet(RequestStructure.pleaseWords)
        let `if` = PackedWord("if"), any = PackedWord("any"), our = PackedWord("our"), my = PackedWord("my")
        /// Any of these in the text, or "across": `workOnMany` can hold.
        let collectionWords = PackedWordSet(RequestStructure.collectionWords.union(["across"]))
    }
}

/// The sentences and words of one request as `RequestStructure.sentences` splits them, as
/// byte ranges (a word is always a contiguous run of the text) and packed keys.
struct ByteSentences {
    struct Sentence {
        /// Words `lo..<hi` of `ranges`/`keys`.
        var lo: Int
        var hi: Int
        var question: Bool
        /// Index (from `lo`) of the first word after the first comma, or -1.
        var comma: Int
    }

    var ranges: [(Int, Int)] = []
    var keys: [PackedWord] = []
    var sentences: [Sentence] = []

    init(_ t: UnsafeBufferPointer<UInt8>) {
        let n = t.count
        ranges.reserveCapacity(n / 4 + 4)
        keys.reserveCapacity(n / 4 + 4)
        var wordStart = -1
        var sentenceLo = 0
        var comma = -1
        var i = 0
        @inline(__always) func endWord(_ end: Int) {
            if wordStart >= 0 {
                ranges.append((wordStart, end))
                keys.append(PackedWord(t, wordStart, end))
                wordStart = -1
            }
        }
        func endSentence(_ end: Int, question: Bool) {
            endWord(end)
            if keys.count > sentenceLo {
                sentences.append(Sentence(lo: sentenceLo, hi: keys.count, question: question, comma: comma))
            }
            sentenceLo = keys.count
            comma = -1
        }
        while i < n {
            let b = t[i]
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), 0x80...0xFF:
                if wordStart < 0 { wordStart = i }
            case UInt8(ascii: "'"), UInt8(ascii: "-"):
                break  // part of a word already started; not a start
            case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"), UInt8(ascii: ":"):
                let next: UInt8 = i + 1 < n ? t[i + 1] : 0x20
                if next == 0x20 || next == 0x0A || next == UInt8(ascii: "\"") || next == UInt8(ascii: ")") || i + 1 == n {
                    endSentence(i, question: b == UInt8(ascii: "?"))
                } else if b == UInt8(ascii: ".") && wordStart >= 0 {
                    break  // 3.8.0, e.g.
                } else {
                    endWord(i)
                }
            case 0x0A:
                endSentence(i, question: false)
            case UInt8(ascii: ","):
                endWord(i)
                if comma < 0 { comma = keys.count - sentenceLo }
            default:
                endWord(i)
            }
            i += 1
        }
        endSentence(n, question: false)
    }

    /// Words `lo..<hi` joined by single spaces.
    func quote(_ t: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> String {
        guard lo < hi else { return "" }
        var length = hi - lo - 1
        for k in lo..<hi { length += ranges[k].1 - ranges[k].0 }
        return String(unsafeUninitializedCapacity: length) { out in
            var o = 0
            for k in lo..<hi {
                if k > lo {
                    out[o] = 0x20
                    o += 1
                }
                let (s, e) = ranges[k]
                for j in s..<e {
                    out[o] = t[j]
                    o += 1
                }
            }
            return o
        }
    }

    /// `stripMarker` on words `lo..<hi`: where the words after the marker start, nil when none.
    func stripMarker(_ lo: Int, _ hi: Int, wholeSentence: Bool, _ w: RequestStructure.Words) -> Int? {
        if wholeSentence {
            for h in w.headings where h.count == hi - lo && h.indices.allSatisfy({ keys[lo + $0] == h[$0] }) { return hi }
        }
        for m in w.markers where hi - lo >= m.count && m.indices.allSatisfy({ keys[lo + $0] == m[$0] }) {
            return lo + m.count
        }
        return nil
    }
}
