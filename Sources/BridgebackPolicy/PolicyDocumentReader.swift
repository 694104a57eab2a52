import BridgebackCore

/// Reads a policy file's structure through the schema layer (`SchemaReader`, collect-all, the
/// source map as its locator): unknown keys (with a likely typo named), missing fields, wrong
/// types and a `pull` that is not a decision, each with its full path, line and column. `null`
/// is an absent optional field, as it always was; a `null` where a value is required is a wrong
/// type. What the structure cannot say (weights, patterns, trigger classes) is
/// ``PolicyValidator/validate(_:)``'s, after this.
struct PolicyDocumentReader {
    let reader: SchemaReader
    let map: JSONSourceMap

    init(map: JSONSourceMap) {
        self.map = map
        reader = SchemaReader(mode: .collectAll, nullIsAbsent: true, rootName: "the policy") { path, kind in
            let position = (kind == .unknownField ? map.keyPositions[path] : nil) ?? map.position(of: path)
            return position.map { SchemaReader.Position(line: $0.line, column: $0.column) }
        }
    }

    /// Keys starting with `_` are comments, anywhere a key list is checked.
    static let comment = "_"

    static func keys<K: CodingKey & CaseIterable>(_: K.Type) -> [String] { K.allCases.map(\.stringValue) }

    /// The document, or the problem an operator should fix first: an unknown key if there is one
    /// (they are usually typos that explain the rest), else the first problem in the file.
    static func read(_ root: JSONValue, map: JSONSourceMap) throws(PolicyError) -> PolicyDocument {
        let policy = PolicyDocumentReader(map: map)
        // A collect-all reader records instead of throwing; the catch only satisfies the type checker.
        let document = try? policy.document(root)
        let problems = policy.reader.problems.map(policy.error)
        let inOrder = problems.sorted { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) }
        if let first = inOrder.first(where: { $0.kind == .unknownField }) ?? inOrder.first { throw first }
        guard let document else {
            throw PolicyError(kind: .syntax, reason: "the policy could not be read")
        }
        return document
    }

    /// A schema problem as the policy's own error, naming the family or cue it is in.
    func error(_ problem: SchemaProblem) -> PolicyError {
        let kind: PolicyError.Kind =
            switch problem.kind {
            case .unknownField: .unknownField
            // Present but null: the value is there, of the wrong type.
            case .missing: map.positions[problem.path] == nil ? .missingField : .wrongType
            case .wrongType: .wrongType
            case .outOfRange, .invalidValue: .invalidValue
            }
        var reason = problem.message
        // A family's, cue's or trigger's own name says more than its index.
        if problem.kind != .unknownField, problem.path.hasPrefix("families[") || problem.path.hasPrefix("triggers[") {
            let subject = PolicyValidator.subject(at: problem.path, map: map)
            if subject.contains("'") { reason = "\(subject): \(reason)" }
        }
        return PolicyError(
            kind: kind, reason: reason, path: problem.path, line: problem.position?.line, column: problem.position?.column)
    }

    func document(_ root: JSONValue) throws(SchemaProblem) -> PolicyDocument? {
        guard
            let top = try reader.object(
                root, at: "", known: Self.keys(PolicyDocument.CodingKeys.self), commentPrefix: Self.comment, required: true,
                expected: "a JSON object (the policy)")
        else { return nil }
        let version = try top.string("version", required: true)
        let description = try top.string("description")
        let decision = try decisionRule(top)
        var macros: [String: String] = [:]
        if let fields = try top.object("macros", expected: "an object of named regular expression fragments") {
            // Every key is a macro (no comment keys here): the decoder always read them so.
            for name in fields.members.keys.sorted() {
                if let fragment = try fields.string(name, required: true) { macros[name] = fragment }
            }
        }
        var triggers: [PolicyDocument.TriggerDeclaration] = []
        for item in try top.array("triggers", required: true, expected: "an array of trigger declarations") ?? [] {
            guard
                let fields = try reader.object(
                    item.value, at: item.path, known: Self.keys(PolicyDocument.TriggerDeclaration.CodingKeys.self),
                    commentPrefix: Self.comment, required: true)
            else { continue }
            let triggerClass = try fields.string("class", required: true, expected: "a trigger class name")
            let description = try fields.string("description")
            if let triggerClass {
                triggers.append(.init(triggerClass: TriggerClass(rawValue: triggerClass), description: description))
            }
        }
        var families: [PolicyDocument.CueFamily] = []
        for item in try top.array("families", required: true, expected: "an array of cue families") ?? [] {
            if let family = try family(item.value, at: item.path) { families.append(family) }
        }
        let hints = try hintRules(top)
        guard let version, let decision, reader.isClean else { return nil }
        return PolicyDocument(
            version: version, description: description, decision: decision, macros: macros, triggers: triggers, families: families,
            hints: hints)
    }

    func decisionRule(_ top: JSONFields) throws(SchemaProblem) -> PolicyDocument.DecisionRule? {
        guard
            let fields = try top.object(
                "decision", known: Self.keys(PolicyDocument.DecisionRule.CodingKeys.self), commentPrefix: Self.comment,
                required: true)
        else { return nil }
        let threshold = try fields.number("threshold", required: true)
        let wordingCap = try fields.number("wording_cap", required: true)
        let confidenceScale = try fields.number("confidence_scale", required: true)
        guard let threshold, let wordingCap, let confidenceScale else { return nil }
        return .init(threshold: threshold, wordingCap: wordingCap, confidenceScale: confidenceScale)
    }

    func family(_ value: JSONValue, at path: String) throws(SchemaProblem) -> PolicyDocument.CueFamily? {
        guard
            let fields = try reader.object(
                value, at: path, known: Self.keys(PolicyDocument.CueFamily.CodingKeys.self), commentPrefix: Self.comment,
                required: true)
        else { return nil }
        let name = try fields.string("name", required: true)
        let label = try fields.string("label", required: true)
        let pull = try fields.oneOf("pull", Decision.self, required: true)
        let trigger = try fields.string("trigger", expected: "a trigger class name").map(TriggerClass.init(rawValue:))
        let max = try fields.number("max")
        let description = try fields.string("description")
        var cues: [PolicyDocument.Cue] = []
        for item in try fields.array("cues", required: true, expected: "an array of cues") ?? [] {
            if let cue = try cue(item.value, at: item.path) { cues.append(cue) }
        }
        var suppressedBy: [String]?
        if let items = try fields.array("suppressed_by", expected: "an array of structure feature names") {
            suppressedBy = []
            for item in items {
                if let feature = try reader.string(item.value, at: item.path, required: true) { suppressedBy?.append(feature) }
            }
        }
        guard let name, let label, let pull else { return nil }
        return .init(
            name: name, label: label, pull: pull, trigger: trigger, max: max, description: description, cues: cues,
            suppressedBy: suppressedBy)
    }

    func cue(_ value: JSONValue, at path: String) throws(SchemaProblem) -> PolicyDocument.Cue? {
        guard
            let fields = try reader.object(
                value, at: path, known: Self.keys(PolicyDocument.Cue.CodingKeys.self), commentPrefix: Self.comment, required: true)
        else { return nil }
        let id = try fields.string("id", required: true)
        let pattern = try fields.string("pattern", required: true, expected: "a regular expression string")
        let weight = try fields.number("weight", required: true)
        let minCount = try fields.integer("min_count")
        let note = try fields.string("note")
        guard let id, let pattern, let weight else { return nil }
        return .init(id: id, pattern: pattern, weight: weight, minCount: minCount, note: note)
    }

    func hintRules(_ top: JSONFields) throws(SchemaProblem) -> PolicyDocument.HintRules {
        var rules = PolicyDocument.HintRules()
        guard
            let fields = try top.object(
                "hints", known: Self.keys(PolicyDocument.HintRules.CodingKeys.self), commentPrefix: Self.comment)
        else { return rules }
        rules.expectedWaitSeconds = try hintRule(fields, "expected_wait_s")
        rules.sources = try hintRule(fields, "sources")
        rules.steps = try hintRule(fields, "steps")
        rules.tools = try hintRule(fields, "tools")
        return rules
    }

    func hintRule(_ hints: JSONFields, _ key: String) throws(SchemaProblem) -> PolicyDocument.HintRule? {
        guard
            let fields = try hints.object(
                key, known: Self.keys(PolicyDocument.HintRule.CodingKeys.self), commentPrefix: Self.comment)
        else { return nil }
        let detachAt = try fields.number("detach_at")
        let inlineAt = try fields.number("inline_at")
        let weight = try fields.number("weight", required: true)
        let trigger = try fields.string("trigger", expected: "a trigger class name").map(TriggerClass.init(rawValue:))
        guard let weight else { return nil }
        return .init(detachAt: detachAt, inlineAt: inlineAt, weight: weight, trigger: trigger)
    }
}
