/// Whole-request shapes added on top of `RequestStructure`'s sentence reading (policy
/// `2026.12-2`): each is a small function over a sentence's words so the sentence reader
/// itself stays as it is.
extension RequestStructure {
    /// Openers of a quick question that carry no meaning of their own ("quick q - could you …").
    static let questionOpeners: Set<String> = ["q", "qq", "question", "quickie", "sorry", "btw"]

    /// Verbs after "could you" that ask *about* something rather than for work
    /// ("could you explain …?", "can you even do that?"): those stay questions.
    static let aboutVerbs: Set<String> = [
        "explain", "tell", "describe", "remind", "recommend", "suggest", "clarify", "define", "help", "teach", "imagine",
        "say", "think", "even", "ever", "really", "not", "walk", "elaborate", "advise", "guess", "remember", "believe",
    ]

    /// A polite request phrased as a question: "could you check every invoice …?", "Quick q - can
    /// you compare …?", "Before the cutover, would you list …?". Returns the instruction's words,
    /// or nil when the sentence is a real question ("could you explain …?", "could we …?").
    static func politeRequest(_ words: [String], comma: Int?) -> [String]? {
        // The modal may follow an opener of up to five words ("sorry to bother -", "before the cutover,")
        // but no question word ("why would you …?").
        var starts = [0, comma ?? 0]
        for i in 0..<min(words.count, 6) {
            if questionWords.contains(words[i]) && !["can", "could", "would", "will"].contains(words[i]) { break }
            if ["can", "could", "would", "will"].contains(words[i]) { starts.append(i) }
        }
        for start in starts where start < words.count {
            var w = Array(words[start...])
            while let first = w.first, fillers.contains(first) || questionOpeners.contains(first) { w.removeFirst() }
            guard w.count > 2, ["can", "could", "would", "will"].contains(w[0]), ["you", "u", "ya"].contains(w[1]) else { continue }
            let rest = stripFillers(Array(w.dropFirst(2)))
            guard let verb = rest.first, !aboutVerbs.contains(verb), isImperative(rest) else { continue }
            return rest
        }
        return nil
    }

    /// Words a report's heading is made of ("Quick update for the record:", "Status update:").
    static let headingWords: Set<String> = [
        "quick", "short", "small", "brief", "little", "status", "update", "news", "good", "for", "the", "record", "your",
        "information", "fyi", "heads", "up", "heads-up", "just", "so", "you", "u", "know", "a", "an", "ps", "note", "all",
    ]

    /// A sentence that is only a report heading: heading words, one of which says "report".
    static func isReportHeading(_ words: [String]) -> Bool {
        !words.isEmpty && words.count <= 6 && words.allSatisfy(headingWords.contains)
            && words.contains { ["update", "record", "fyi", "news", "heads-up", "information", "know", "note"].contains($0) }
    }

    /// Words after a past-tense verb that make it a participle describing the object
    /// ("files changed in the last week"), not the main verb of a report.
    static let participleFollowers: Set<String> = [
        "by", "in", "since", "before", "after", "from", "during", "over", "last", "yesterday", "within", "between", "at",
        "to", "for", "with", "under", "into",
    ]

    /// "Payroll for all 300 employees went out on time": a noun and its modifier are the
    /// subject of a past-tense verb, so the first word is not an imperative.
    static func subjectThenPast(_ words: [String]) -> Bool {
        guard words.count >= 4, subjectPrepositions.contains(words[1]) else { return false }
        for i in 2..<min(words.count, 12) {
            let w = words[i]
            if clauseOpeners.contains(w) {
                return false
            }
            if (isPast(w) && !w.contains("-")) || w == "was" || w == "were" {
                return i + 1 == words.count || !participleFollowers.contains(words[i + 1])
            }
        }
        return false
    }

    /// "when the visa letter arrives in my inbox pls forward it to HR": an event clause with no
    /// comma, then an instruction opened by "please" or "then". Returns (event, instruction).
    static func eventWithoutComma(_ core: [String]) -> (event: [String], action: [String])? {
        guard let first = core.first, subordinators.contains(first) || (first == "as" && core.count > 2 && core[1] == "soon")
        else { return nil }
        for j in 2..<max(2, core.count) where actionOpeners.contains(core[j]) {
            let event = Array(core[..<j])
            if event.contains(where: { $0 == "you" || $0 == "u" }) { return nil }
            let action = stripFillers(Array(core[j...]))
            if isImperative(action) { return (event, action) }
        }
        return nil
    }

    /// Words that make a question about our own things a question about their *current state*.
    static let stateWords: Set<String> = [
        "still", "left", "anywhere", "remaining", "leftover", "lingering", "orphaned", "stale", "unused", "expired",
        "expiring", "public", "outdated", "unpatched",
    ]
    /// Words that make it a question about practice or opinion instead ("should we …", "is it normal …").
    static let opinionWords: Set<String> = [
        "how", "why", "should", "would", "normal", "usually", "typically", "generally", "need", "worth", "crazy",
        "better", "best", "safe", "ok", "okay", "possible", "risk", "risks", "mean", "means", "explain",
    ]

    /// "Are any of our DNS records, anywhere, still pointing at …?", "any service accounts left in
    /// any of our projects …?": a yes/no or which-question about the present state of everything
    /// we own. Only looking through it all answers it: that is inventory work, not a question.
    static func inventoryQuestion(_ words: [String]) -> Bool {
        var w = words[...]
        while let first = w.first, fillers.contains(first) || questionOpeners.contains(first) { w = w.dropFirst() }
        guard let first = w.first,
            ["are", "is", "do", "does", "have", "has", "any", "which", "whether", "were", "did"].contains(first)
        else { return false }
        return w.contains { $0 == "our" || $0 == "my" || $0 == "we" } && w.contains { ["any", "which", "all", "every"].contains($0) }
            && w.contains(where: stateWords.contains) && !w.contains(where: opinionWords.contains)
    }

    /// "Procurement went through every contract, insurance certificate and bank detail": the part
    /// before the first comma is already a whole report (no "when/if/once" opening it), so what
    /// follows the comma is the rest of a list, not the instruction of a leading clause.
    static func reportBeforeComma(_ core: [String], _ words: [String], _ comma: Int) -> Bool {
        guard let first = core.first, !subordinators.contains(first) else { return false }
        return isReport(Array(words[..<comma]))
    }

    /// "quarter we'll probably have to …": a pronoun with a contracted verb right after the first
    /// word makes that word part of an adverbial or a subject, not a verb in the imperative.
    static func subjectPronounFollows(_ words: [String]) -> Bool {
        words.count > 1 && pronounContractions.contains(words[1])
    }

    /// Verbs that answer or compose rather than act on things: "list all the status codes",
    /// "write a cron entry that runs every night" are not work over a collection.
    static let answerVerbs: Set<String> = [
        "list", "name", "show", "give", "tell", "write", "draft", "compose", "suggest", "explain", "describe", "translate",
        "summarise", "summarize", "define", "recommend", "sort", "format", "convert", "calculate", "count", "spell",
        "rephrase", "rewrite", "make", "generate", "create", "add", "lmk", "pls", "let", "remind", "help", "imagine",
    ]
    /// Words that put a collection in the object: "every contact", "all the images", "the whole archive".
    static let collectionWords: Set<String> = ["every", "each", "all", "whole", "entire", "thousands", "hundreds", "dozens"]

    /// The first instruction (plain, polite or after a leading clause) whose verb acts on a
    /// collection named within its next six words; nil when there is none.
    static func workOnMany(_ sentences: [Sentence]) -> String? {
        for sentence in sentences {
            var candidates = [stripFillers(sentence.words)]
            if let comma = sentence.firstCommaWord, comma > 0, comma < sentence.words.count {
                candidates.append(stripFillers(Array(sentence.words[comma...])))
            }
            if let polite = politeRequest(sentence.words, comma: sentence.firstCommaWord) { candidates.append(polite) }
            for core in candidates where isImperative(core) && !answerVerbs.contains(core[0]) {
                let window = core.dropFirst().prefix(6)
                if window.contains(where: collectionWords.contains)
                    || zip(window, window.dropFirst()).contains(where: { $0 == "across" && ["our", "all", "every", "the"].contains($1) })
                {
                    return quote(Array(core.prefix(6)))
                }
            }
        }
        return nil
    }

    static let subjectPrepositions: Set<String> = ["for", "of", "in", "on", "at", "from", "with", "across"]
    static let clauseOpeners: Set<String> = [
        "which", "that", "who", "whether", "if", "why", "when", "what", "where", "how", "and", "then", "to",
    ]
    static let actionOpeners: Set<String> = ["please", "pls", "plz", "kindly", "then"]
    static let pronounContractions: Set<String> = [
        "we'll", "i'll", "you'll", "they'll", "we'd", "i'd", "we're", "i'm", "they're", "we've", "i've",
    ]
}
