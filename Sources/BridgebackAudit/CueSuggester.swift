public import BridgebackPolicy
import Foundation

/// Derives candidate cues from a missed request's wording: verb + object first, then the
/// imperative verb alone. Multi-word first, because a bare verb (`get`, `sit`, `stick`) is broad
/// enough to detach unrelated short requests; the `Proposer` then refuses any cue that changes
/// a labelled corpus decision or flips a generated short unrelated request.
public enum CueSuggester {
    static let politePrefixes = [
        "please ", "kindly ", "pls ", "plz ", "can you ", "could you ", "would you ", "will you ", "can u ", "could u ",
        "i need you to ", "i want you to ", "i would like you to ", "help me ", "go ahead and ", "hey ", "ok ", "okay ",
        "now ", "then ", "first ", "also ", "and ", "please, ",
    ]
    static let determiners: Set<String> = [
        "the", "a", "an", "our", "my", "all", "every", "each", "this", "that", "these", "those", "some", "any", "your", "their",
    ]
    /// Words that cannot be the imperative verb of a work request.
    static let notVerbs: Set<String> = [
        "what", "how", "why", "when", "where", "who", "which", "whose", "is", "are", "was", "were", "do", "does", "did", "can",
        "could", "should", "would", "will", "shall", "may", "might", "must", "i", "we", "you", "it", "they", "he", "she", "there",
        "here", "this", "that", "the", "a", "an", "thanks", "thank", "hi", "hello", "hey", "yes", "no", "ok", "okay", "just",
        "also", "so", "if", "in", "on", "at", "for", "to", "of", "by", "with", "please",
    ]
    static let determinerGroup = "(?:(?:" + determiners.sorted().joined(separator: "|") + ")\\s+)*"

    /// The verb and (if any) its object, lowercased, or nil when the request does not start
    /// with something that reads as an imperative.
    public static func verbAndObject(_ text: String) -> (verb: String, object: String?)? {
        var s = text.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
        s = s.trimmingCharacters(in: .whitespacesAndNewlines)
        var stripped = true
        while stripped {
            stripped = false
            for prefix in politePrefixes where s.hasPrefix(prefix) {
                s.removeFirst(prefix.count)
                s = s.trimmingCharacters(in: .whitespaces.union(.punctuationCharacters))
                stripped = true
            }
        }
        let words = words(s)
        guard let verb = words.first, verb.count >= 3, !notVerbs.contains(verb), verb.allSatisfy(\.isLetter) else { return nil }
        let object = words.dropFirst().first { !determiners.contains($0) && $0.count >= 3 && $0.allSatisfy(\.isLetter) }
        // Stop at the first clause: an object after a comma or "and" is another clause.
        return (verb, object.flatMap { firstClause(s).contains($0) ? $0 : nil })
    }

    private static func words(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        for ch in s {
            if ch.isLetter || ch.isNumber || ch == "'" || ch == "-" {
                current.append(ch)
            } else {
                if !current.isEmpty { out.append(current) }
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    private static func firstClause(_ s: String) -> String {
        let cut = s.firstIndex { ",.;:!?".contains($0) } ?? s.endIndex
        var clause = String(s[..<cut])
        if let and = clause.range(of: " and ") { clause = String(clause[..<and.lowerBound]) }
        return clause
    }

    /// The detach family a cue for `trigger` joins: the one with that trigger and the largest
    /// cap (ties: first in the file); with no trigger, `work_imperative` or the first untriggered one.
    public static func family(for trigger: TriggerClass?, in policy: PolicyDocument) -> PolicyDocument.CueFamily? {
        let detach = policy.families.filter { $0.pull == .detach }
        if let trigger {
            let matching = detach.filter { $0.trigger == trigger }
            if let best = matching.max(by: { ($0.max ?? .infinity) < ($1.max ?? .infinity) }),
                let first = matching.first(where: { ($0.max ?? .infinity) == (best.max ?? .infinity) })
            {
                return first
            }
        }
        return detach.first { $0.name == "work_imperative" } ?? detach.first { $0.trigger == nil }
    }

    /// Candidate cues for `request` in the family for `trigger`, multi-word first, each
    /// checked against the request alone (`catchesRequest`).
    public static func candidates(
        for request: AdmissionRequest, trigger: TriggerClass?, engine: PolicyEngine
    ) -> [CandidateCue] {
        guard let (verb, object) = verbAndObject(request.text),
            let family = family(for: trigger, in: engine.policy)
        else { return [] }
        let current = engine.decide(request)
        let needed = engine.policy.decision.threshold - current.score
        var weight = (max(1.0, needed) * 4).rounded(.up) / 4
        if let cap = family.max { weight = min(weight, cap) }
        let lead = engine.policy.macros["clause"] != nil ? "{{clause}}" : "\\b"
        var drafts: [(String, String)] = []
        if let object {
            drafts.append(("audit-\(verb)-\(object)", lead + escape(verb) + "\\s+" + determinerGroup + escape(object) + "\\b"))
        }
        drafts.append(("audit-\(verb)", lead + escape(verb) + "\\b"))
        let taken = Set(engine.policy.families.flatMap { $0.cues.map(\.id) })
        return drafts.map { id, pattern in
            var unique = id
            var n = 2
            while taken.contains(unique) {
                unique = "\(id)-\(n)"
                n += 1
            }
            let cue = CandidateCue(
                family: family.name, id: unique, pattern: pattern, weight: weight, trigger: family.trigger?.rawValue, catchesRequest: false)
            var checked = cue
            if let candidate = try? PolicyEngine(policy: adding([cue], to: engine.policy, version: engine.policy.version)) {
                checked.catchesRequest = candidate.decide(request).decision == .detach
            }
            return checked
        }
    }

    /// A copy of `policy` with `cues` appended to their families and `version` set.
    public static func adding(_ cues: [CandidateCue], to policy: PolicyDocument, version: String) -> PolicyDocument {
        var copy = policy
        copy.version = version
        for cue in cues {
            guard let index = copy.families.firstIndex(where: { $0.name == cue.family }) else { continue }
            guard !copy.families[index].cues.contains(where: { $0.id == cue.id }) else { continue }
            copy.families[index].cues.append(
                PolicyDocument.Cue(
                    id: cue.id, pattern: cue.pattern, weight: cue.weight,
                    note: "proposed by bridgeback audit from a missed request; review before installing"))
        }
        return copy
    }

    private static func escape(_ word: String) -> String {
        NSRegularExpression.escapedPattern(for: word)
    }
}
