/// Where a request runs: in the conversation, or as a background job.
public enum Decision: String, Sendable, Hashable, Codable, CaseIterable {
    case inline
    case detach
}

/// A kind of long work the policy recognises.
///
/// A struct rather than an enum so a policy file naming an unknown class decodes and can be
/// rejected with its line, instead of failing deep inside the decoder.
public struct TriggerClass: RawRepresentable, Hashable, Sendable, Codable, Comparable,
    CustomStringConvertible
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Verification-heavy closeout: verify, confirm, prove, re-run checks.
    public static let verification = TriggerClass(rawValue: "verification")
    /// Maintenance loops: audits, backups, health checks, cron review, sweeps, status collection.
    public static let maintenance = TriggerClass(rawValue: "maintenance")
    /// Release or canary gates: preflight, staged validation, rollback.
    public static let releaseGate = TriggerClass(rawValue: "release_gate")
    /// Preparation that reads several sources.
    public static let multiSource = TriggerClass(rawValue: "multi_source")
    /// Work that waits on a condition or a span of time.
    public static let wait = TriggerClass(rawValue: "wait")

    /// The classes the audit and the admission API know; a policy may use no others.
    public static let known: [TriggerClass] = [
        .verification, .maintenance, .releaseGate, .multiSource, .wait,
    ]

    public var isKnown: Bool { Self.known.contains(self) }
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        self.rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// Canonical order (the order of `known`), so outputs are stable.
    public static func < (lhs: TriggerClass, rhs: TriggerClass) -> Bool {
        let l = known.firstIndex(of: lhs) ?? Int.max
        let r = known.firstIndex(of: rhs) ?? Int.max
        return l == r ? lhs.rawValue < rhs.rawValue : l < r
    }
}

/// Structured facts a caller knows about the work. They outweigh wording.
public struct AdmissionHints: Sendable, Hashable, Codable {
    /// How long the caller expects to wait for the answer, in seconds.
    public var expectedWaitSeconds: Double?
    /// How many separate sources the work reads.
    public var sources: Int?
    /// How many staged steps the work has.
    public var steps: Int?
    /// How many tools the work uses.
    public var tools: Int?
    /// The caller's override; honoured, and reported as forced.
    public var force: Decision?

    public init(
        expectedWaitSeconds: Double? = nil, sources: Int? = nil, steps: Int? = nil,
        tools: Int? = nil, force: Decision? = nil
    ) {
        self.expectedWaitSeconds = expectedWaitSeconds
        self.sources = sources
        self.steps = steps
        self.tools = tools
        self.force = force
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case expectedWaitSeconds = "expected_wait_s"
        case sources, steps, tools, force
    }
}

/// One request to admit.
public struct AdmissionRequest: Sendable, Hashable, Codable {
    public var text: String
    public var hints: AdmissionHints?

    public init(text: String, hints: AdmissionHints? = nil) {
        self.text = text
        self.hints = hints
    }
}

/// One cue that fired, with the text that made it fire, so a person can check the call.
public struct CueMatch: Sendable, Hashable, Codable {
    /// The cue family (for hints: `hints`).
    public var family: String
    /// The cue id inside its family (for hints: the hint name).
    public var cue: String
    /// The trigger class the cue stands for, if any.
    public var trigger: TriggerClass?
    /// Which way the cue pulls.
    public var pull: Decision
    /// The weight it added (before the family cap).
    public var weight: Double
    /// The matched text (for hints: `name=value`).
    public var text: String

    public init(
        family: String, cue: String, trigger: TriggerClass?, pull: Decision, weight: Double,
        text: String
    ) {
        self.family = family
        self.cue = cue
        self.trigger = trigger
        self.pull = pull
        self.weight = weight
        self.text = text
    }
}

/// The engine's answer, explainable on its own: what, why, with which policy.
public struct AdmissionDecision: Sendable, Hashable, Codable {
    /// The decision that applies (after `force`).
    public var decision: Decision
    /// What the policy alone decided; differs from `decision` only when forced.
    public var policyDecision: Decision
    /// Trigger classes whose cues (or hints) pulled toward detach, in canonical order.
    /// Listed even when inline cues won, so the audit can see near misses.
    public var triggers: [TriggerClass]
    /// Every cue and hint that fired, strongest first.
    public var cues: [CueMatch]
    /// 0.5 at the threshold, toward 1 as the score moves away from it; 1 when forced.
    public var confidence: Double
    /// One sentence naming the cues behind the decision.
    public var reason: String
    /// The `version` of the policy that decided.
    public var policyVersion: String
    /// True when the caller's `force` hint set the decision.
    public var forced: Bool
    /// The net score the decision compared with the policy threshold.
    public var score: Double

    public init(
        decision: Decision, policyDecision: Decision, triggers: [TriggerClass], cues: [CueMatch],
        confidence: Double, reason: String, policyVersion: String, forced: Bool, score: Double
    ) {
        self.decision = decision
        self.policyDecision = policyDecision
        self.triggers = triggers
        self.cues = cues
        self.confidence = confidence
        self.reason = reason
        self.policyVersion = policyVersion
        self.forced = forced
        self.score = score
    }
}
