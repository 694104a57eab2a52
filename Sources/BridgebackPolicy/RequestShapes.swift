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
        if let embedded = embeddedPoliteRequest(words) { return embedded }
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

    /// Words before "you could/can" that make the whole sentence a polite ask: "any chance you could …?",
    /// "do you think you could …?", "I was wondering if you could …?" (policy `2026.12-4`).
    static let askOpeners: Set<String> = ["chance", "think", "if", "whether", "wondering", "possible", "able", "reckon"]
    static let whWords: Set<String> = ["what", "why", "how", "when", "where", "who", "which", "whose"]

    /// "Hey, any chance you could go through all the open orders …?": an ask embedded after an opener.
    static func embeddedPoliteRequest(_ words: [String]) -> [String]? {
        guard words.count > 4 else { return nil }
        for i in 1..<min(words.count - 2, 8) {
            if whWords.contains(words[i - 1]) { return nil }
            guard ["you", "u"].contains(words[i]), ["could", "can", "would", "will"].contains(words[i + 1]),
                askOpeners.contains(words[i - 1])
            else { continue }
            let rest = stripFillers(Array(words[(i + 2)...]))
            guard let verb = rest.first, !aboutVerbs.contains(verb), isImperative(rest) else { return nil }
            return rest
        }
        return nil
    }

    /// Words a report's heading is made of ("Quick update for the record:", "Status update:").
    static let headingWords: Set<String> = [
        "quick", "short", "small", "brief", "little", "status", "update", "news", "good", "for", "the", "record", "your",
        "information", "fyi", "heads", "up", "heads-up", "just", "so", "you", "u", "know", "a", "an", "ps", "note", "all",
        "context", "background", "recap", "some",
    ]

    /// A sentence that is only a report heading: heading words, one of which says "report".
    static func isReportHeading(_ words: [String]) -> Bool {
        !words.isEmpty && words.count <= 6 && words.allSatisfy(headingWords.contains)
            && words.contains {
                ["update", "record", "fyi", "news", "heads-up", "information", "know", "note", "context", "background", "recap"].contains(
                    $0)
            }
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
        for j in 2..<max(2, core.count) where actionOpeners.contains(core[j]) || actionAfterEvent(core, j) {
            let event = Array(core[..<j])
            if event.contains(where: { $0 == "you" || $0 == "u" }) { return nil }
            let action = stripFillers(Array(core[j...]))
            if isImperative(action) { return (event, action) }
        }
        return nil
    }

    /// Work verbs in their base form, by class (sending, filing, checking, changing, collecting): with no comma
    /// and no "please", one of them after an event clause starts the instruction ("as soon as payroll closes on
    /// Friday reconcile it …", policy `2026.12-4`).
    static let actionVerbs: Set<String> = [
        "send", "forward", "email", "post", "share", "notify", "ping", "tell", "text", "message", "alert", "remind", "reply",
        "file", "archive", "move", "upload", "download", "attach", "log", "record", "print", "tag", "label", "mark", "assign",
        "check", "verify", "compare", "reconcile", "review", "audit", "scan", "count", "tally", "total", "match", "flag",
        "update", "refresh", "sync", "merge", "deploy", "publish", "release", "promote", "restart", "rerun", "re-run", "run",
        "start", "close", "open", "create", "add", "remove", "delete", "export", "import", "generate", "rebuild", "bump",
        "pay", "invoice", "refund", "cancel", "approve", "reject", "book", "order", "reorder", "restock", "ship", "submit",
        "pull", "push", "fetch", "scrape", "collect", "compile", "summarise", "summarize", "draft", "write", "prepare",
        "schedule", "purge", "rotate", "renew", "snapshot", "restore", "reindex", "lock", "unlock", "disable", "enable",
        "revoke", "grant", "recalculate", "rebalance", "reprocess", "backfill", "resend", "chase", "escalate", "lmk",
    ]
    /// Words right before a listed verb that make it part of the event clause ("when they want to update …").
    static let actionBlockers: Set<String> = [
        "to", "will", "can", "should", "must", "might", "may", "would", "could", "and", "or", "not", "don't", "didn't",
        "i", "we", "they", "he", "she", "it", "who", "that", "which", "the", "a", "an", "our", "my", "their", "'ll",
    ]
    static let eventAuxiliaries: Set<String> = ["is", "are", "was", "were", "has", "have", "gets", "get", "got"]

    /// A finite verb of an event clause: "closes", "is", "arrived".
    static func isEventVerb(_ w: String) -> Bool {
        eventAuxiliaries.contains(w) || isPast(w)
            || (w.utf8.count > 3 && w.hasSuffix("s") && !w.hasSuffix("ss") && !w.hasSuffix("us") && !w.hasSuffix("'s"))
    }

    /// `core[j]` is a listed work verb that starts the instruction after an event clause `core[1..<j]` with a finite verb.
    static func actionAfterEvent(_ core: [String], _ j: Int) -> Bool {
        j >= 3 && actionVerbs.contains(core[j]) && !actionBlockers.contains(core[j - 1]) && core[1..<j].contains(where: isEventVerb)
    }

    /// Objects after "do" that make it the verb of an instruction ("Do the lab ones first, then …"), not an auxiliary.
    static let doObjects: Set<String> = [
        "the", "a", "an", "this", "that", "these", "those", "all", "every", "each", "it", "some", "our", "my",
    ]

    /// "Do the lab ones first": "do" + an object, in a sentence that is no question.
    static func imperativeDo(_ words: [String]) -> Bool {
        words.count > 2 && words[0] == "do" && doObjects.contains(words[1])
    }

    /// Forms that are both a base and a past form: at the start of a sentence they open an instruction
    /// ("hit each of the 200 old URLs …"), not a report.
    static let sameBaseAndPast: Set<String> = ["hit", "shut", "put", "cut", "set", "reset", "let", "read", "spread", "split", "quit"]

    /// "I want to know whether any of our buckets, in any account, are still public", "figure out which of our …":
    /// an inventory question embedded in a statement. Returns where the embedded question starts.
    static func indirectInventory(_ words: [String]) -> Int? {
        guard words.count > 4 else { return nil }
        for i in 0..<(words.count - 3) {
            let word = words[i]
            guard word == "whether" || word == "which" || (word == "if" && words[i + 1] == "any") else { continue }
            // "how do I check whether any of our …" asks how, not what is there.
            if words[..<i].contains(where: { whWords.contains($0) || ["should", "can", "could", "would", "shall"].contains($0) }) {
                return nil
            }
            return inventoryQuestion(Array(words[i...]), opinionWindow: true) ? i : nil
        }
        return nil
    }

    /// Words that make the things asked about ours ("which of the laptops we've handed out …").
    static let ownerWords: Set<String> = ["our", "my", "we", "we've", "we're", "we'd", "i've", "us"]

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
    /// With `opinionWindow` (an embedded question, which may go on with "- need a list"), opinion words count only
    /// up to three words after the first state word.
    static func inventoryQuestion(_ words: [String], opinionWindow: Bool = false) -> Bool {
        var w = words[...]
        while let first = w.first, fillers.contains(first) || questionOpeners.contains(first) { w = w.dropFirst() }
        guard let first = w.first,
            ["are", "is", "do", "does", "have", "has", "any", "which", "whether", "were", "did"].contains(first),
            let state = w.firstIndex(where: stateWords.contains)
        else { return false }
        let opinionScope = opinionWindow ? w[..<min(w.endIndex, state + 4)] : w
        return w.contains(where: ownerWords.contains) && w.contains { ["any", "which", "all", "every"].contains($0) }
            && !opinionScope.contains(where: opinionWords.contains)
    }

    /// Words that check something ("confirm this cron runs …: 30 2 * * 1-5").
    static let checkWords: Set<String> = [
        "confirm", "verify", "check", "test", "validate", "double-check", "sanity-check", "is", "does", "valid", "correct", "right",
    ]

    static let timeWords: Set<String> = [
        "minute", "hour", "day", "weekday", "morning", "evening", "night", "week", "weekend", "month", "year", "monday",
        "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "quarter",
    ]

    /// A literal given after the request's last ": " and checked by the words before it: every token of the
    /// literal holds a digit or a symbol, or is at most two letters; nothing before it names a collection.
    /// Returns the literal, nil when there is none.
    static func givenLiteral(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { givenLiteral(bytes: UnsafeBufferPointer($0)) }
    }

    static func givenLiteral(bytes t: UnsafeBufferPointer<UInt8>) -> String? {
        let n = t.count
        var colon = -1
        var i = n - 2
        while i > 0 {
            if t[i] == UInt8(ascii: ":") && t[i + 1] == 0x20 {
                colon = i
                break
            }
            i -= 1
        }
        guard colon > 0 else { return nil }
        var lo = colon + 1
        while lo < n && t[lo] == 0x20 { lo += 1 }
        var hi = n
        while hi > lo && (t[hi - 1] == 0x20 || t[hi - 1] == 0x0A) { hi -= 1 }
        guard hi > lo, hi - lo <= 80 else { return nil }
        var symbol = false
        var tokenStart = lo
        var tokenLetters = 0
        var tokenOther = false
        var k = lo
        while k <= hi {
            let b: UInt8 = k < hi ? t[k] : 0x20
            if b == 0x20 || b == 0x0A {
                if k > tokenStart && !tokenOther && tokenLetters > 2 { return nil }
                tokenStart = k + 1
                tokenLetters = 0
                tokenOther = false
            } else if b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z") {
                tokenLetters += 1
            } else {
                tokenOther = true
                if b != UInt8(ascii: "'") && b != UInt8(ascii: "-") && b != UInt8(ascii: ".") && b != UInt8(ascii: ",") { symbol = true }
            }
            k += 1
        }
        guard symbol else { return nil }
        // The words before the colon: at most 20, one of them a check word, no collection word but before a
        // time word ("every weekday" is a schedule inside the literal's description, "every server" a collection).
        var words = 0
        var check = false
        var collection = false
        var start = -1
        k = 0
        while k <= colon {
            let b: UInt8 = k < colon ? t[k] : 0x20
            let letter = (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || b == UInt8(ascii: "-")
            if letter {
                if start < 0 { start = k }
            } else if start >= 0 {
                let word = String(decoding: UnsafeBufferPointer(rebasing: t[start..<k]), as: UTF8.self)
                if checkWords.contains(word) { check = true }
                if collection && !timeWords.contains(word) { return nil }
                collection = collectionWords.contains(word)
                words += 1
                start = -1
            }
            k += 1
        }
        guard check, !collection, words <= 20 else { return nil }
        return String(decoding: UnsafeBufferPointer(rebasing: t[lo..<hi]), as: UTF8.self)
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
            // A word with a digit ("p99 180 ms") is no verb.
            for core in candidates
            where isImperative(core) && !answerVerbs.contains(core[0]) && !core[0].utf8.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) {
                let window = core.dropFirst().prefix(6)
                if window.contains(where: { collectionWords.contains($0) || isManyCount($0) })
                    || zip(window, window.dropFirst()).contains(where: { $0 == "across" && ["our", "all", "every", "the"].contains($1) })
                {
                    return quote(Array(core.prefix(6)))
                }
            }
        }
        return nil
    }

    /// An approximate count of ten or more ("25-ish", "60-odd", "40-plus"): names a collection ("update the footer
    /// on the 25-ish landing pages", policy `2026.12-4`).
    static func isManyCount(_ word: String) -> Bool {
        let digits = word.utf8.prefix { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        guard digits.count >= 2 else { return false }
        return ["-odd", "-ish", "-plus"].contains(String(decoding: word.utf8.dropFirst(digits.count), as: UTF8.self))
    }

    static let subjectPrepositions: Set<String> = ["for", "of", "in", "on", "at", "from", "with", "across"]
    /// Since `2026.12-4` also the subordinators: "holler at me once the load has cleared" is an instruction.
    static let clauseOpeners: Set<String> = [
        "which", "that", "who", "whether", "if", "why", "when", "what", "where", "how", "and", "then", "to", "once", "until",
        "till", "after", "before", "as", "while", "because", "unless", "whenever",
    ]
    static let actionOpeners: Set<String> = ["please", "pls", "plz", "kindly", "then"]
    static let pronounContractions: Set<String> = [
        "we'll", "i'll", "you'll", "they'll", "we'd", "i'd", "we're", "i'm", "they're", "we've", "i've",
    ]
}
