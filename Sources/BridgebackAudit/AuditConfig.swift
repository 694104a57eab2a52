public import Foundation

/// The audit's own thresholds and its delivery target, kept apart from the admission policy:
/// a `false_positive_calibration` finding tunes this file, never the policy.
///
/// Loaded from JSON (`deploy/local/audit.json`); every key is optional and falls back to
/// `AuditConfig.default`. Unknown keys are refused so a typo does not silently keep a default.
public struct AuditConfig: Sendable, Hashable, Codable {
    public var thresholds: Thresholds
    public var delivery: Delivery

    public init(thresholds: Thresholds = .init(), delivery: Delivery = .init()) {
        self.thresholds = thresholds
        self.delivery = delivery
    }

    public static let `default` = AuditConfig()

    /// What makes an inline turn look like long work.
    public struct Thresholds: Sendable, Hashable, Codable {
        /// A turn at least this long (seconds) is long.
        public var longTurnSeconds: Double
        /// A turn that waited at least this long (seconds) is wait-heavy…
        public var waitSeconds: Double
        /// …as is one that spent at least this share of its time waiting (with `waitSeconds / 4` or more).
        public var waitShare: Double
        /// This many tool calls or more is many.
        public var manyToolCalls: Int
        /// This many sources or more is a multi-source turn.
        public var manySources: Int
        /// This many verify-and-retry loops or more is a verification loop.
        public var verificationLoops: Int
        /// A turn that succeeded in under this many seconds, with only count-based signals
        /// (tools, sources), was safely small: `false_positive_calibration`.
        public var smallTurnSeconds: Double
        /// A detached job still unpublished this long after admission failed to launch.
        public var launchGraceSeconds: Double

        public init(
            longTurnSeconds: Double = 120, waitSeconds: Double = 60, waitShare: Double = 0.5, manyToolCalls: Int = 6,
            manySources: Int = 3, verificationLoops: Int = 2, smallTurnSeconds: Double = 30, launchGraceSeconds: Double = 300
        ) {
            self.longTurnSeconds = longTurnSeconds
            self.waitSeconds = waitSeconds
            self.waitShare = waitShare
            self.manyToolCalls = manyToolCalls
            self.manySources = manySources
            self.verificationLoops = verificationLoops
            self.smallTurnSeconds = smallTurnSeconds
            self.launchGraceSeconds = launchGraceSeconds
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case longTurnSeconds = "long_turn_s"
            case waitSeconds = "wait_s"
            case waitShare = "wait_share"
            case manyToolCalls = "many_tool_calls"
            case manySources = "many_sources"
            case verificationLoops = "verification_loops"
            case smallTurnSeconds = "small_turn_s"
            case launchGraceSeconds = "launch_grace_s"
        }

        public init(from decoder: any Decoder) throws {
            let d = Thresholds()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try AuditConfig.refuseUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), at: "thresholds")
            longTurnSeconds = try c.decodeIfPresent(Double.self, forKey: .longTurnSeconds) ?? d.longTurnSeconds
            waitSeconds = try c.decodeIfPresent(Double.self, forKey: .waitSeconds) ?? d.waitSeconds
            waitShare = try c.decodeIfPresent(Double.self, forKey: .waitShare) ?? d.waitShare
            manyToolCalls = try c.decodeIfPresent(Int.self, forKey: .manyToolCalls) ?? d.manyToolCalls
            manySources = try c.decodeIfPresent(Int.self, forKey: .manySources) ?? d.manySources
            verificationLoops = try c.decodeIfPresent(Int.self, forKey: .verificationLoops) ?? d.verificationLoops
            smallTurnSeconds = try c.decodeIfPresent(Double.self, forKey: .smallTurnSeconds) ?? d.smallTurnSeconds
            launchGraceSeconds = try c.decodeIfPresent(Double.self, forKey: .launchGraceSeconds) ?? d.launchGraceSeconds
        }
    }

    /// Where `bridgeback audit --deliver` sends the report: a detached job through Bridgeback itself.
    public struct Delivery: Sendable, Hashable, Codable {
        /// The surface the audit submits from (must be in the admission registry).
        public var origin: String
        /// The surface the report is delivered to (must be in the registry and accept answers).
        public var finalSurface: String
        /// `direct` (straight to the surface) or `parent`.
        public var deliveryMode: String
        /// A recipe that returns its text parameter as the result (`deliver-text` in the sample catalog).
        public var recipe: String
        public var textParameter: String
        /// Longer reports are cut here with a note (the recipe's `max_length` must allow it).
        public var maxChars: Int

        public init(
            origin: String = "cli:alice", finalSurface: String = "hooks:local", deliveryMode: String = "direct",
            recipe: String = "deliver-text", textParameter: String = "text", maxChars: Int = 48000
        ) {
            self.origin = origin
            self.finalSurface = finalSurface
            self.deliveryMode = deliveryMode
            self.recipe = recipe
            self.textParameter = textParameter
            self.maxChars = maxChars
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case origin
            case finalSurface = "final_surface"
            case deliveryMode = "delivery_mode"
            case recipe
            case textParameter = "text_param"
            case maxChars = "max_chars"
        }

        public init(from decoder: any Decoder) throws {
            let d = Delivery()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try AuditConfig.refuseUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), at: "delivery")
            origin = try c.decodeIfPresent(String.self, forKey: .origin) ?? d.origin
            finalSurface = try c.decodeIfPresent(String.self, forKey: .finalSurface) ?? d.finalSurface
            deliveryMode = try c.decodeIfPresent(String.self, forKey: .deliveryMode) ?? d.deliveryMode
            recipe = try c.decodeIfPresent(String.self, forKey: .recipe) ?? d.recipe
            textParameter = try c.decodeIfPresent(String.self, forKey: .textParameter) ?? d.textParameter
            maxChars = try c.decodeIfPresent(Int.self, forKey: .maxChars) ?? d.maxChars
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case thresholds, delivery
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try Self.refuseUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), at: "top level")
        thresholds = try c.decodeIfPresent(Thresholds.self, forKey: .thresholds) ?? Thresholds()
        delivery = try c.decodeIfPresent(Delivery.self, forKey: .delivery) ?? Delivery()
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func refuseUnknownKeys(_ decoder: any Decoder, known: [String], at place: String) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        for key in all.allKeys.map(\.stringValue).sorted() where !known.contains(key) && !key.hasPrefix("_") {
            throw AuditError(
                .invalidConfig,
                "unknown key '\(key)' in the audit config (\(place)); known keys: \(known.joined(separator: ", ")) (prefix a key with _ for a comment)"
            )
        }
    }

    /// Reads a config file; a missing or invalid file is an `AuditError` naming the file.
    public static func load(from url: URL) throws(AuditError) -> AuditConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AuditError(.invalidConfig, "cannot read the audit config \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(AuditConfig.self, from: data) } catch let error as AuditError {
            throw AuditError(.invalidConfig, "\(url.path): \(error.message)")
        } catch {
            throw AuditError(.invalidConfig, "\(url.path) is not a valid audit config: \(error)")
        }
    }
}

/// Why the audit could not run: a code to switch on and a message a person can act on.
public struct AuditError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case invalidConfig = "invalid_config"
        case unreadableStore = "unreadable_store"
        case invalidArgument = "invalid_argument"
        case invalidPolicy = "invalid_policy"
        case deliveryFailed = "delivery_failed"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
