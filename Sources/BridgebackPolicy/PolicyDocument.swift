public import Foundation
import BridgebackCore

/// The admission policy as data: triggers, cue families, hint rules and the threshold.
///
/// The engine only interprets this document, so an operator tunes admission by editing a
/// JSON file (no rebuild). `load(from:)` refuses a bad file with a `PolicyError` naming the
/// line and what to fix.
public struct PolicyDocument: Sendable, Hashable, Codable {
    /// Shown in every decision, so the audit can tell which policy made a call.
    public var version: String
    public var description: String?
    public var decision: DecisionRule
    /// Named regex fragments, used in patterns as `{{name}}` (e.g. a clause start).
    public var macros: [String: String]
    /// The trigger classes this policy uses, with a note on each.
    public var triggers: [TriggerDeclaration]
    /// Groups of cues; each family pulls one way and may stand for a trigger class.
    public var families: [CueFamily]
    /// How structured hints score. They outweigh wording (see `DecisionRule.wordingCap`).
    public var hints: HintRules

    public init(
        version: String, description: String? = nil, decision: DecisionRule,
        macros: [String: String] = [:], triggers: [TriggerDeclaration], families: [CueFamily],
        hints: HintRules = HintRules()
    ) {
        self.version = version
        self.description = description
        self.decision = decision
        self.macros = macros
        self.triggers = triggers
        self.families = families
        self.hints = hints
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case version, description, decision, macros, triggers, families, hints
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(String.self, forKey: .version)
        description = try c.decodeIfPresent(String.self, forKey: .description)
        decision = try c.decode(DecisionRule.self, forKey: .decision)
        macros = try c.decodeIfPresent([String: String].self, forKey: .macros) ?? [:]
        triggers = try c.decode([TriggerDeclaration].self, forKey: .triggers)
        families = try c.decode([CueFamily].self, forKey: .families)
        hints = try c.decodeIfPresent(HintRules.self, forKey: .hints) ?? HintRules()
    }

    /// The threshold and the scales that turn cue weights into a decision.
    public struct DecisionRule: Sendable, Hashable, Codable {
        /// Detach when the net score is at least this.
        public var threshold: Double
        /// Wording alone is clamped to ±this; every hint weight must exceed it, which is
        /// what makes structured hints outweigh wording.
        public var wordingCap: Double
        /// Distance from the threshold at which confidence reaches about 0.73.
        public var confidenceScale: Double

        public init(threshold: Double, wordingCap: Double, confidenceScale: Double) {
            self.threshold = threshold
            self.wordingCap = wordingCap
            self.confidenceScale = confidenceScale
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case threshold
            case wordingCap = "wording_cap"
            case confidenceScale = "confidence_scale"
        }
    }

    /// A trigger class this policy uses.
    public struct TriggerDeclaration: Sendable, Hashable, Codable {
        public var triggerClass: TriggerClass
        public var description: String?

        public init(triggerClass: TriggerClass, description: String? = nil) {
            self.triggerClass = triggerClass
            self.description = description
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case triggerClass = "class"
            case description
        }
    }

    /// Cues that mean one thing (e.g. "a question about the work"); the family's total is
    /// capped so piling up synonyms does not outvote the shape of the request.
    public struct CueFamily: Sendable, Hashable, Codable {
        public var name: String
        /// Human name used in reasons, e.g. "scope over many things".
        public var label: String
        public var pull: Decision
        public var trigger: TriggerClass?
        /// Cap on the family's summed weight.
        public var max: Double?
        public var description: String?
        public var cues: [Cue]
        /// Structure features (`StructureFeature` raw values) that switch the whole family
        /// off, e.g. question-form cues when a sentence of the request is an instruction.
        public var suppressedBy: [String]?

        public init(
            name: String, label: String, pull: Decision, trigger: TriggerClass? = nil,
            max: Double? = nil, description: String? = nil, cues: [Cue], suppressedBy: [String]? = nil
        ) {
            self.suppressedBy = suppressedBy
            self.name = name
            self.label = label
            self.pull = pull
            self.trigger = trigger
            self.max = max
            self.description = description
            self.cues = cues
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case name, label, pull, trigger, max, description, cues
            case suppressedBy = "suppressed_by"
        }
    }

    /// One case-insensitive regular expression (ICU syntax) and its weight. A pattern
    /// `@name` is a structure feature of the whole request instead (`StructureFeature`).
    public struct Cue: Sendable, Hashable, Codable {
        public var id: String
        public var pattern: String
        /// Positive; the family's `pull` gives the direction.
        public var weight: Double
        /// Fire only when the pattern matches at least this many times (default 1).
        public var minCount: Int?
        public var note: String?

        public init(
            id: String, pattern: String, weight: Double, minCount: Int? = nil, note: String? = nil
        ) {
            self.id = id
            self.pattern = pattern
            self.weight = weight
            self.minCount = minCount
            self.note = note
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case id, pattern, weight
            case minCount = "min_count"
            case note
        }
    }

    /// Scoring for each structured hint.
    public struct HintRules: Sendable, Hashable, Codable {
        public var expectedWaitSeconds: HintRule?
        public var sources: HintRule?
        public var steps: HintRule?
        public var tools: HintRule?

        public init(
            expectedWaitSeconds: HintRule? = nil, sources: HintRule? = nil,
            steps: HintRule? = nil, tools: HintRule? = nil
        ) {
            self.expectedWaitSeconds = expectedWaitSeconds
            self.sources = sources
            self.steps = steps
            self.tools = tools
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case expectedWaitSeconds = "expected_wait_s"
            case sources, steps, tools
        }
    }

    /// A hint at or above `detachAt` adds `weight` toward detach; at or below `inlineAt`
    /// it adds `weight` toward inline; in between it says nothing.
    public struct HintRule: Sendable, Hashable, Codable {
        public var detachAt: Double?
        public var inlineAt: Double?
        public var weight: Double
        public var trigger: TriggerClass?

        public init(
            detachAt: Double? = nil, inlineAt: Double? = nil, weight: Double,
            trigger: TriggerClass? = nil
        ) {
            self.detachAt = detachAt
            self.inlineAt = inlineAt
            self.weight = weight
            self.trigger = trigger
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case detachAt = "detach_at"
            case inlineAt = "inline_at"
            case weight, trigger
        }
    }
}

extension PolicyDocument {
    /// Reads, parses and validates a policy file. Errors carry the file name and line.
    public static func load(from url: URL) throws(PolicyError) -> PolicyDocument {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw PolicyError(
                kind: .unreadable,
                reason: "cannot read the policy file (\(error.localizedDescription)); check the path and permissions",
                file: url.path)
        }
        do {
            return try parse(data)
        } catch {
            var located = error
            located.file = url.path
            throw located
        }
    }

    /// Parses and validates policy JSON. Errors carry a line and column.
    public static func parse(_ data: Data) throws(PolicyError) -> PolicyDocument {
        let bytes = [UInt8](data)
        if String(validating: bytes, as: UTF8.self) == nil {
            throw PolicyError(kind: .unreadable, reason: "the file is not valid UTF-8 text")
        }
        let map = try JSONSourceMap.parse(bytes)
        // The source map has checked the syntax; the same bytes as a value, for the schema layer
        // (a byte-order mark skipped, as the map skips it; NUL and deep nesting left to the map's rules).
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        let root: JSONValue
        do { root = try StrictJSON.parse(body, limits: .init(maxDepth: 512, allowNUL: true)) } catch {
            throw PolicyError(kind: .syntax, reason: error.message, path: error.path)
        }
        let document = try PolicyDocumentReader.read(root, map: map)
        if let first = PolicyValidator.validate(document).first { throw PolicyValidator.locate(first, in: map) }
        return document
    }

    /// The policy shipped with Bridgeback (`Resources/default-policy.json`).
    public static func bundledDefault() throws(PolicyError) -> PolicyDocument {
        guard let url = bundledDefaultURL else {
            throw PolicyError(
                kind: .unreadable,
                reason:
                    "default-policy.json is missing from the BridgebackPolicy resource bundle; install the bundle next to the executable or pass a policy file"
            )
        }
        return try load(from: url)
    }

    /// Where the shipped policy lives, for tools that want to show or copy it.
    public static var bundledDefaultURL: URL? {
        Bundle.module.url(forResource: "default-policy", withExtension: "json")
    }

    /// Checks a document built in code; the same rules `load` applies (without positions).
    public func validate() throws(PolicyError) {
        if let first = PolicyValidator.validate(self).first { throw first }
    }
}
