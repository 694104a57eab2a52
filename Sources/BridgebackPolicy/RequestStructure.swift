/// The shape of a whole request, read from its sentences rather than from single words:
/// is any sentence an instruction, is the request only a report of work already done, does it
/// wait for an outside event and then act.
///
/// Cues see words; these features see the request. A policy uses one as a cue whose pattern
/// is `@name` (see `StructureFeature`), and a family can be switched off by one
/// (`suppressed_by`), e.g. question-form cues when a later sentence gives an instruction.
public enum StructureFeature: String, Sendable, Hashable, CaseIterable {
    /// At least one sentence is an instruction (an imperative not ending in `?`).
    case requestForm = "request_form"
    /// No sentence is an instruction or a question and one reports finished work
    /// ("Rotated all the keys this morning", "FYI: deployed to all 40 stores").
    case report = "report"
    /// "When/once/as soon as/if X happens, do Y": an instruction that waits for an event.
    case eventThenAction = "event_then_action"
    /// No sentence is an instruction and one is a question (often the last of a paragraph).
    case questionForm = "question_form"
    /// No sentence is an instruction and a question asks about the present state of everything
    /// we own ("are any of our records anywhere still pointing at …?"): inventory work.
    case inventoryQuestion = "inventory_question"
    /// An instruction whose verb acts on a whole collection ("update the prefix on every contact",
    /// "resize all the banner images"); a verb that only answers ("list", "write", "explain") does not count.
    case workOnMany = "work_on_many"
    /// A check of a literal the message gives after its last colon ("confirm this cron runs at 2:30am on
    /// weekdays: 30 2 * * 1-5"): the literal is the object to check, so its schedule and time words are
    /// not the request's (policy `2026.12-4`).
    case givenLiteral = "given_literal"
}

/// The features that hold for one request, each with the words that show it.
struct RequestStructure: Sendable {
    /// The words that show each feature that holds (nil: it does not hold).
    struct Evidence: Sendable, Equatable {
        private var requestForm: String?
        private var report: String?
        private var eventThenAction: String?
        private var questionForm: String?
        private var inventoryQuestion: String?
        private var workOnMany: String?
        private var givenLiteral: String?

        subscript(_ feature: StructureFeature) -> String? {
            get {
                switch feature {
                case .requestForm: requestForm
                case .report: report
                case .eventThenAction: eventThenAction
                case .questionForm: questionForm
                case .inventoryQuestion: inventoryQuestion
                case .workOnMany: workOnMany
                case .givenLiteral: givenLiteral
                }
            }
            set {
                switch feature {
                case .requestForm: requestForm = newValue
                case .report: report = newValue
                case .eventThenAction: eventThenAction = newValue
                case .questionForm: questionForm = newValue
                case .inventoryQuestion: inventoryQuestion = newValue
                case .workOnMany: workOnMany = newValue
                case .givenLiteral: givenLiteral = newValue
                }
            }
        }
    }

    var evidence = Evidence()

    func holds(_ feature: StructureFeature) -> Bool { evidence[feature] != nil }

    /// Analyses normalized, lowercased text.
    init(_ text: String) {
        let sentences = Self.sentences(text)
        var imperative: String?
        var question = false
        var report: String?
        var event: String?
        var marker = false
        for (index, sentence) in sentences.enumerated() {
            var words = sentence.words
            if index == 0, let stripped = Self.stripMarker(words, wholeSentence: sentences.count > 1) {
                marker = true
                words = stripped
                if words.isEmpty { continue }
            }
            let core = Self.stripFillers(words)
            if sentence.endsWithQuestion, let polite = Self.politeRequest(words, comma: sentence.firstCommaWord) {
                if imperative == nil { imperative = Self.quote(polite) }
                continue
            }
            if sentence.endsWithQuestion || (core.first.map { Self.questionWords.contains($0) } ?? false) && !Self.imperativeDo(core) {
                question = true
                continue
            }
            guard let first = core.first else { continue }
            if Self.isImperative(core) {
                if imperative == nil { imperative = Self.quote(core) }
                continue
            }
            // A leading clause ("when the contract arrives, …", "tonight, …"): the instruction
            // is what follows its comma.
            if let comma = sentence.firstCommaWord, comma < words.count, comma > 0, !Self.reportBeforeComma(core, words, comma) {
                let main = Self.stripFillers(Array(words[comma...]))
                if Self.isImperative(main) {
                    if imperative == nil { imperative = Self.quote(main) }
                    if Self.subordinators.contains(first) || (first == "as" && core.count > 2 && core[1] == "soon"),
                        !core[..<min(comma, core.count)].contains(where: { $0 == "you" || $0 == "u" })
                    {
                        if event == nil { event = Self.quote(Array(core.prefix(6))) + " …, " + Self.quote(Array(main.prefix(3))) }
                    }
                    continue
                }
            }
            if let (leading, main) = Self.eventWithoutComma(core) {
                if imperative == nil { imperative = Self.quote(main) }
                if event == nil { event = Self.quote(Array(leading.prefix(6))) + " …, " + Self.quote(Array(main.prefix(3))) }
                continue
            }
            if report == nil, Self.isReport(core) { report = Self.quote(core) }
        }
        if let imperative { evidence[.requestForm] = imperative }
        if imperative == nil, question, let last = sentences.last(where: \.endsWithQuestion) {
            evidence[.questionForm] = Self.quote(last.words)
        }
        if let event { evidence[.eventThenAction] = event }
        if imperative != nil, let many = Self.workOnMany(sentences) { evidence[.workOnMany] = many }
        if imperative == nil,
            let inventory = sentences.first(where: {
                ($0.endsWithQuestion && Self.inventoryQuestion($0.words)) || Self.indirectInventory($0.words) != nil
            })
        {
            evidence[.inventoryQuestion] = Self.quote(inventory.words)
        }
        if let literal = Self.givenLiteral(text) { evidence[.givenLiteral] = literal }
        if imperative == nil, !question {
            if let report {
                evidence[.report] = report
            } else if marker, sentences.count > 0 {
                evidence[.report] = "fyi"
            }
        }
    }

    // MARK: - Sentences and words

    struct Sentence {
        var words: [String]
        var endsWithQuestion: Bool
        /// Index in `words` of the first word after the first comma, if any.
        var firstCommaWord: Int?
    }

    /// Splits on `. ! ? ; :` followed by a space or the end, and on newlines; words are runs
    /// of letters, digits, `'` and `-`.
    static func sentences(_ text: String) -> [Sentence] {
        var out: [Sentence] = []
        var words: [String] = []
        var word: [UInt8] = []
        var comma: Int?
        let bytes = Array(text.utf8)
        func endWord() {
            if !word.isEmpty {
                words.append(String(decoding: word, as: UTF8.self))
                word.removeAll(keepingCapacity: true)
            }
        }
        func endSentence(question: Bool) {
            endWord()
            if !words.isEmpty { out.append(Sentence(words: words, endsWithQuestion: question, firstCommaWord: comma)) }
            words = []
            comma = nil
        }
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let next: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0x20
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), 0x80...0xFF:
                word.append(b)
            case UInt8(ascii: "'"), UInt8(ascii: "-"):
                if !word.isEmpty { word.append(b) }
            case UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "?"), UInt8(ascii: ";"), UInt8(ascii: ":"):
                if next == 0x20 || next == 0x0A || next == UInt8(ascii: "\"") || next == UInt8(ascii: ")") || i + 1 == bytes.count {
                    endSentence(question: b == UInt8(ascii: "?"))
                } else if b == UInt8(ascii: ".") && !word.isEmpty {
                    word.append(b)  // 3.8.0, e.g.
                } else {
                    endWord()
                }
            case 0x0A:
                endSentence(question: false)
            case UInt8(ascii: ","):
                endWord()
                if comma == nil { comma = words.count }
            default:
                endWord()
            }
            i += 1
        }
        endSentence(question: false)
        return out
    }

    static func quote(_ words: [String]) -> String {
        words.prefix(8).joined(separator: " ")
    }

    // MARK: - Word classes

    /// Markers that open a report wherever they stand ("FYI, we pushed …").
    static let markers: [[String]] = [
        ["just", "so", "you", "know"], ["just", "so", "u", "know"], ["so", "you", "know"], ["so", "u", "know"],
        ["just", "letting", "you", "know"], ["just", "a", "heads", "up"],
        ["for", "your", "information"], ["for", "the", "record"], ["heads", "up"], ["heads-up"], ["fyi"],
    ]
    /// Words that are a marker only as a sentence of their own ("Update: we migrated …");
    /// "Update the prefix on every contact" is an instruction.
    static let headings: [[String]] = [["quick", "update"], ["status", "update"], ["update"], ["status"], ["good", "news"], ["news"]]

    /// Drops a leading report marker; nil when there is none.
    static func stripMarker(_ words: [String], wholeSentence: Bool) -> [String]? {
        if wholeSentence, headings.contains(words) || isReportHeading(words) { return [] }
        for m in markers where words.count >= m.count && Array(words.prefix(m.count)) == m {
            return Array(words.dropFirst(m.count))
        }
        return nil
    }

    static let fillers: Set<String> = [
        "so", "ok", "okay", "hey", "hi", "hello", "and", "then", "also", "now", "first", "next", "finally", "please", "pls",
        "plz", "kindly", "just", "quick", "btw", "oh", "um", "hmm", "but", "right", "alright", "actually", "maybe",
        "today", "tomorrow", "tonight", "yo", "team", "guys", "folks",
    ]

    /// Drops greetings, "please", "can you", "I need you to", "help me", "go ahead and".
    static func stripFillers(_ words: [String]) -> [String] {
        var w = words[...]
        var changed = true
        var afterPlease = false
        while changed, let first = w.first {
            changed = false
            if fillers.contains(first) {
                afterPlease = pleaseWords.contains(first)
                w = w.dropFirst()
                changed = true
            } else if afterPlease, first == "you" || first == "u", w.count > 1, isImperative(Array(w.dropFirst())) {
                // "please you check the logbook" (non-native): the "you" addresses, the verb instructs (`2026.12-4`).
                w = w.dropFirst()
                afterPlease = false
                changed = true
            } else if ["can", "could", "would", "will"].contains(first), w.count > 1, ["you", "u", "ya"].contains(w[w.startIndex + 1]) {
                w = w.dropFirst(2)
                changed = true
            } else if ["i", "we"].contains(first), w.count > 3, ["need", "want", "would", "'d"].contains(w[w.startIndex + 1]),
                ["you", "u"].contains(w[w.startIndex + 2]), w[w.startIndex + 3] == "to"
            {
                w = w.dropFirst(4)
                changed = true
            } else if first == "help", w.count > 1, w[w.startIndex + 1] == "me" {
                w = w.dropFirst(2)
                changed = true
            } else if first == "go", w.count > 2, w[w.startIndex + 1] == "ahead", w[w.startIndex + 2] == "and" {
                w = w.dropFirst(3)
                changed = true
            }
        }
        return Array(w)
    }

    static let pleaseWords: Set<String> = ["please", "pls", "plz", "kindly"]

    static let questionWords: Set<String> = [
        "what", "what's", "whats", "how", "how's", "why", "which", "who", "who's", "whom", "whose", "where", "where's",
        "is", "are", "am", "was", "were", "does", "do", "did", "has", "have", "had", "should", "shall", "could", "can",
        "would", "will", "may", "might", "must", "isn't", "aren't", "doesn't", "don't", "didn't", "won't", "wouldn't",
        "shouldn't", "can't", "couldn't",
    ]

    static let subordinators: Set<String> = ["when", "once", "after", "whenever", "if", "as", "before"]

    /// Words that never open an instruction: pronouns, determiners, prepositions, conjunctions,
    /// adverbs of time, acknowledgements.
    static let closedClass: Set<String> = Set([
        "i", "i'm", "i've", "i'd", "we", "we're", "we've", "you", "you're", "they", "they've", "he", "she", "it", "it's", "its",
        "this", "that", "these", "those", "there", "there's", "here", "here's", "my", "our", "your", "their", "his", "her",
        "the", "a", "an", "all", "every", "each", "any", "some", "no", "none", "both", "several", "many", "most", "few",
        "whether", "if", "when", "once", "after", "before", "as", "while", "until", "till", "since", "because", "for", "in",
        "on", "at", "by", "with", "from", "to", "of", "about", "into", "over", "under", "between", "across", "during",
        "still", "yesterday", "already", "also", "perhaps", "really", "not", "everything", "nothing", "anything",
        "something", "someone", "everyone", "nobody", "thanks", "thank", "thx", "yes", "yeah", "yep", "nope", "sure",
        "great", "perfect", "awesome", "cool", "nice", "good", "well", "last", "earlier", "this", "weekday", "whenever",
        "usually", "generally", "typically", "normally", "hopefully", "unfortunately", "luckily", "interesting", "wow",
        "sorry", "hm", "lol", "haha", "other", "another", "one", "two", "three", "more", "less", "much",
    ]).union(questionWords)

    static let irregularPast: Set<String> = [
        "went", "ran", "did", "sent", "built", "made", "took", "got", "found", "wrote", "saw", "came", "became", "began",
        "broke", "brought", "bought", "caught", "chose", "drove", "fell", "felt", "fought", "forgot", "froze", "gave",
        "grew", "heard", "held", "kept", "knew", "left", "lost", "meant", "met", "paid", "rode", "rang", "rose", "said",
        "sold", "spent", "stood", "taught", "told", "thought", "threw", "understood", "woke", "won", "wore", "done",
        "gone", "been", "sat", "shot", "slept", "spoke", "struck", "swept", "withdrew", "undid", "redid", "rebuilt",
        "reran", "rewrote", "overran", "shut", "hit",
    ]

    static let baseFormEd: Set<String> = [
        "need", "feed", "seed", "speed", "embed", "shed", "proceed", "exceed", "succeed", "bed", "shred", "breed", "heed",
        "bleed", "weed", "wed", "red", "bred",
    ]

    static func isPast(_ w: String) -> Bool {
        if irregularPast.contains(w) { return true }
        return w.count > 4 && w.hasSuffix("ed") && !baseFormEd.contains(w)
    }

    /// Second words that make the first a subject ("the build is …", "ops went …").
    static let subjectFollowers: Set<String> = [
        "is", "are", "was", "were", "has", "have", "had", "will", "can", "should", "would", "went", "looks", "seems",
    ]

    /// Words before a past participle that make it a statement of need, not a report.
    /// A modal before it ("there may still be hardcoded references") makes it a possibility, not a report (`2026.12-4`).
    static let reportBlockers: Set<String> = [
        "need", "want", "whether", "if", "like", "should", "may", "might", "could", "must", "will", "would",
    ]

    /// Determiners after which a past form describes a noun ("archive the week's closed matters",
    /// "send our finished drafts"): not the verb of a report (policy `2026.12-3`).
    static let attributiveDeterminers: Set<String> = ["the", "a", "an", "our", "my", "your", "their", "his", "her"]
    /// Possessive-looking words that are a pronoun and a verb ("it's fixed"), not a possessive.
    static let contractedIs: Set<String> = [
        "it's", "that's", "what's", "there's", "here's", "he's", "she's", "who's", "let's", "everything's", "nothing's",
    ]

    /// "the", "our", "the week's": the next word, if past in form, is an adjective of a noun.
    static func isAttributive(_ word: String) -> Bool {
        attributiveDeterminers.contains(word) || (word.utf8.count > 3 && word.hasSuffix("'s") && !contractedIs.contains(word))
    }

    /// A clause opening with a verb in its base form: not a closed-class word, not past
    /// tense, not a gerund, not a plural or third-person `-s` form, not a number; and the
    /// next word is not a past-tense verb or an auxiliary (that makes the first a subject).
    static func isImperative(_ words: [String]) -> Bool {
        guard let first = words.first else { return false }
        if first == "lmk" || first == "pls" || imperativeDo(words) { return true }
        if closedClass.contains(first) || (isPast(first) && !sameBaseAndPast.contains(first)) || subjectThenPast(words)
            || subjectPronounFollows(words)
        {
            return false
        }
        guard let c = first.utf8.first, c >= UInt8(ascii: "a"), c <= UInt8(ascii: "z") else { return false }
        if first.count > 4 && first.hasSuffix("ing") { return false }
        if first.hasSuffix("s") && !first.hasSuffix("ss") && !first.hasSuffix("us") && first.count > 2 { return false }
        if first.hasSuffix("'s") || first.hasSuffix("ly") { return false }
        if words.count > 1 {
            let second = words[1]
            if isPast(second) || subjectFollowers.contains(second) { return false }
        }
        return true
    }

    /// A sentence that tells of finished work: it opens with a past-tense verb, or a
    /// subject is followed within a few words by one ("we migrated", "ops watched").
    static func isReport(_ words: [String]) -> Bool {
        guard let first = words.first else { return false }
        if isPast(first) { return true }
        for (i, w) in words.prefix(12).enumerated() where i > 0 {
            if isPast(w) && !isAttributive(words[i - 1]) {
                // "the files uploaded by …" is still a report; "any record updated" in a
                // statement of need is not: require no "need/want/whether" before it.
                if words.prefix(i).contains(where: reportBlockers.contains) { return false }
                return true
            }
        }
        return false
    }
}
