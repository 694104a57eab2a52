import BridgebackCore
import Foundation

/// The rules a policy must satisfy beyond its structure (``PolicyDocumentReader``), each failure
/// phrased as something an operator can fix.
enum PolicyValidator {
    /// A human name for what lives at `path`, e.g. "cue 'verify-verb' in family 'verify_request'".
    static func subject(at path: String, map: JSONSourceMap?) -> String {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first else { return "the policy" }
        func name(_ p: String, _ key: String) -> String? { map?.strings[p + "." + key] }
        if first.hasPrefix("families[") {
            let familyPath = String(first)
            let family = name(familyPath, "name").map { "family '\($0)'" } ?? familyPath
            if parts.count > 1, parts[1].hasPrefix("cues[") {
                let cuePath = familyPath + "." + parts[1]
                let cue = name(cuePath, "id").map { "cue '\($0)'" } ?? parts[1]
                return "\(cue) in \(family)"
            }
            return family
        }
        if first.hasPrefix("triggers[") {
            return name(first, "class").map { "trigger '\($0)'" } ?? first
        }
        if first == "hints", parts.count > 1 { return "hint '\(parts[1])'" }
        return "'\(first)'"
    }

    /// Adds line and column from the source map.
    static func locate(_ error: PolicyError, in map: JSONSourceMap) -> PolicyError {
        var located = error
        if located.line == nil, let pos = map.position(of: error.path) {
            located.line = pos.line
            located.column = pos.column
        }
        return located
    }

    /// Semantic rules, in document order. Does not need positions.
    static func validate(_ doc: PolicyDocument) -> [PolicyError] {
        var unused: [String: NSRegularExpression] = [:]
        return validate(doc, compiled: &unused)
    }

    /// As `validate`, also handing back each cue's compiled regex (keyed by its expanded
    /// pattern) so the engine does not compile everything twice.
    static func validate(_ doc: PolicyDocument, compiled: inout [String: NSRegularExpression]) -> [PolicyError] {
        var problems: [PolicyError] = []
        func fail(_ kind: PolicyError.Kind, _ path: String, _ reason: String) {
            problems.append(PolicyError(kind: kind, reason: reason, path: path))
        }
        let knownList = TriggerClass.known.map(\.rawValue).joined(separator: ", ")

        if doc.version.trimmingCharacters(in: .whitespaces).isEmpty {
            fail(.invalidValue, "version", "'version' must not be empty; every decision reports it")
        }
        let rule = doc.decision
        if !rule.threshold.isFinite {
            fail(.invalidValue, "decision.threshold", "the threshold must be a finite number")
        }
        if !(rule.wordingCap.isFinite && rule.wordingCap > 0) {
            fail(.invalidValue, "decision.wording_cap", "wording_cap must be a positive number")
        }
        if !(rule.confidenceScale.isFinite && rule.confidenceScale > 0) {
            fail(.invalidValue, "decision.confidence_scale", "confidence_scale must be a positive number")
        }

        for (name, value) in doc.macros.sorted(by: { $0.key < $1.key }) {
            if value.contains("{{") {
                fail(.invalidPattern, "macros.\(name)", "macro '\(name)' uses another macro; macros cannot nest")
            } else if let reason = RegexCompiler.compileError(value) {
                fail(.invalidPattern, "macros.\(name)", "macro '\(name)' is not a valid regular expression: \(reason)")
            }
        }

        var declared: Set<TriggerClass> = []
        for (i, t) in doc.triggers.enumerated() {
            let p = "triggers[\(i)].class"
            if !t.triggerClass.isKnown {
                fail(.unknownTriggerClass, p, "'\(t.triggerClass)' is not a trigger class; use one of \(knownList)")
            } else if !declared.insert(t.triggerClass).inserted {
                fail(.duplicateIdentifier, p, "trigger class '\(t.triggerClass)' is declared twice")
            }
        }

        func checkTrigger(_ trigger: TriggerClass?, _ p: String, _ owner: String) {
            guard let trigger else { return }
            if !trigger.isKnown {
                fail(.unknownTriggerClass, p, "\(owner) names trigger class '\(trigger)', which does not exist; use one of \(knownList)")
            } else if !declared.contains(trigger) {
                fail(
                    .unknownTriggerClass, p,
                    "\(owner) names trigger class '\(trigger)', which this policy does not declare under 'triggers'")
            }
        }

        var familyNames: Set<String> = []
        for (fi, family) in doc.families.enumerated() {
            let fp = "families[\(fi)]"
            let owner = "family '\(family.name)'"
            if family.name.isEmpty { fail(.invalidValue, fp + ".name", "a family needs a non-empty name") }
            if !familyNames.insert(family.name).inserted {
                fail(.duplicateIdentifier, fp + ".name", "family name '\(family.name)' is used twice; names must be unique")
            }
            if family.label.isEmpty { fail(.invalidValue, fp + ".label", "\(owner) needs a non-empty label (reasons use it)") }
            checkTrigger(family.trigger, fp + ".trigger", owner)
            if family.trigger != nil && family.pull == .inline {
                fail(
                    .invalidValue, fp + ".trigger", "\(owner) pulls inline but names a trigger class; triggers are kinds of background work"
                )
            }
            if let max = family.max, !(max.isFinite && max > 0) {
                fail(.invalidValue, fp + ".max", "\(owner): max must be a positive number")
            }
            if family.cues.isEmpty { fail(.invalidValue, fp + ".cues", "\(owner) has no cues") }
            for name in family.suppressedBy ?? [] where StructureFeature(rawValue: name) == nil {
                fail(
                    .invalidValue, fp + ".suppressed_by",
                    "\(owner): '\(name)' is not a structure feature; known: \(StructureFeature.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            var cueIDs: Set<String> = []
            for (ci, cue) in family.cues.enumerated() {
                let cp = fp + ".cues[\(ci)]"
                let cueName = "cue '\(cue.id)' in \(owner)"
                if cue.id.isEmpty { fail(.invalidValue, cp + ".id", "a cue in \(owner) has an empty id") }
                if !cueIDs.insert(cue.id).inserted {
                    fail(.duplicateIdentifier, cp + ".id", "cue id '\(cue.id)' is used twice in \(owner)")
                }
                if !(cue.weight.isFinite && cue.weight > 0) {
                    fail(
                        .invalidValue, cp + ".weight",
                        "\(cueName): weight must be a positive number (the family's pull gives the direction)")
                }
                if let n = cue.minCount, n < 1 {
                    fail(.invalidValue, cp + ".min_count", "\(cueName): min_count must be at least 1")
                }
                if cue.pattern.hasPrefix("@") {
                    if StructureFeature(rawValue: String(cue.pattern.dropFirst())) == nil {
                        fail(
                            .invalidPattern, cp + ".pattern",
                            "\(cueName): '\(cue.pattern)' is not a structure feature; known: \(StructureFeature.allCases.map { "@" + $0.rawValue }.joined(separator: ", "))"
                        )
                    }
                    continue
                }
                switch RegexCompiler.expand(cue.pattern, macros: doc.macros) {
                case .failure(let reason):
                    fail(.invalidPattern, cp + ".pattern", "\(cueName): \(reason)")
                case .success(let expanded):
                    if cue.pattern.trimmingCharacters(in: .whitespaces).isEmpty {
                        fail(.invalidPattern, cp + ".pattern", "\(cueName): the pattern is empty")
                    } else {
                        switch RegexCompiler.compileChecked(expanded) {
                        case .failure(let reason):
                            fail(.invalidPattern, cp + ".pattern", "\(cueName): \(reason)")
                        case .success(let regex):
                            compiled[expanded] = regex
                            if regex.firstMatch(in: "", options: [], range: NSRange(location: 0, length: 0)) != nil {
                                fail(
                                    .invalidPattern, cp + ".pattern",
                                    "\(cueName): the pattern matches the empty string, so it would fire on every request")
                            }
                        }
                    }
                }
            }
        }

        let hintRules: [(String, PolicyDocument.HintRule?)] = [
            ("expected_wait_s", doc.hints.expectedWaitSeconds), ("sources", doc.hints.sources),
            ("steps", doc.hints.steps), ("tools", doc.hints.tools),
        ]
        for (name, rule) in hintRules {
            guard let rule else { continue }
            let hp = "hints.\(name)"
            if !(rule.weight.isFinite && rule.weight > doc.decision.wordingCap) {
                fail(
                    .invalidValue, hp + ".weight",
                    "hint '\(name)': weight \(rule.weight) must exceed decision.wording_cap (\(doc.decision.wordingCap)) so structured hints outweigh wording"
                )
            }
            if rule.detachAt == nil && rule.inlineAt == nil {
                fail(.invalidValue, hp, "hint '\(name)' sets neither detach_at nor inline_at, so it can never count")
            }
            if let d = rule.detachAt, let i = rule.inlineAt, i >= d {
                fail(.invalidValue, hp + ".inline_at", "hint '\(name)': inline_at (\(i)) must be below detach_at (\(d))")
            }
            checkTrigger(rule.trigger, hp + ".trigger", "hint '\(name)'")
        }
        return problems
    }
}

/// Macro expansion and regex compilation, shared by validation and the engine.
enum RegexCompiler {
    struct PatternProblem: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Patterns run on lowercased text without ICU's case-insensitive mode, which is about
    /// twice as slow; `lowercasePattern` keeps escapes such as `\S` and `\p{Lu}` intact.
    static let options: NSRegularExpression.Options = []

    static func lowercasePattern(_ pattern: String) -> String {
        var out = ""
        var chars = pattern.makeIterator()
        while let ch = chars.next() {
            if ch == "\\" {
                out.append(ch)
                guard let escaped = chars.next() else { break }
                out.append(escaped)
                if escaped == "p" || escaped == "P" || escaped == "N" {
                    // Property and character names keep their case: \\p{Lu}, \\N{LATIN ...}.
                    var peek = chars
                    if peek.next() == "{" {
                        while let c = chars.next() {
                            out.append(c)
                            if c == "}" { break }
                        }
                    }
                }
            } else {
                out += ch.lowercased()
            }
        }
        return out
    }

    /// Replaces `{{name}}` with the macro's text (wrapped in a non-capturing group).
    static func expand(_ pattern: String, macros: [String: String]) -> Result<String, PatternProblem> {
        guard pattern.contains("{{") else { return .success(pattern) }
        var out = ""
        var rest = Substring(pattern)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}") else {
                return .failure(PatternProblem("'{{' without a closing '}}' in the pattern"))
            }
            let name = String(afterOpen[..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            guard let body = macros[name] else {
                let known = macros.keys.sorted().joined(separator: ", ")
                return .failure(PatternProblem("unknown macro '{{\(name)}}'; defined macros: \(known.isEmpty ? "none" : known)"))
            }
            out += "(?:" + body + ")"
            rest = afterOpen[close.upperBound...]
        }
        out += rest
        return .success(out)
    }

    static func compile(_ pattern: String) throws -> NSRegularExpression {
        try NSRegularExpression(pattern: lowercasePattern(pattern), options: options)
    }

    static func compileError(_ pattern: String) -> String? {
        switch compileChecked(pattern) {
        case .success: return nil
        case .failure(let problem): return problem.description
        }
    }

    /// Compiles once, or explains why not (with a hint about the usual mistakes).
    static func compileChecked(_ pattern: String) -> Result<NSRegularExpression, PatternProblem> {
        do {
            return .success(try compile(pattern))
        } catch {
            var hint = "it does not compile as an ICU regular expression"
            var depth = 0
            var escaped = false
            var inClass = false
            for ch in pattern {
                if escaped { escaped = false; continue }
                switch ch {
                case "\\": escaped = true
                case "[": inClass = true
                case "]": inClass = false
                case "(" where !inClass: depth += 1
                case ")" where !inClass: depth -= 1
                default: break
                }
                if depth < 0 { break }
            }
            if depth != 0 {
                hint += " (unbalanced parentheses)"
            } else if inClass {
                hint += " (unclosed '[')"
            } else if escaped {
                hint += " (it ends with a lone backslash)"
            }
            return .failure(PatternProblem(hint + "; pattern: \(pattern)"))
        }
    }
}
