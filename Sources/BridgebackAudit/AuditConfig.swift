public import Foundation
import BridgebackCore

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

        /// Decoding reads through the schema layer, as ``AuditConfig/parse(_:)`` does.
        public init(from decoder: any Decoder) throws {
            let reader = SchemaReader(mode: .failFast, rootName: "the thresholds")
            guard let fields = try reader.object(try JSONValue(from: decoder), at: "") else { throw reader.lastProblem(at: "") }
            self = try Self.read(fields)
        }

        static func read(_ f: JSONFields) throws(SchemaProblem) -> Thresholds {
            try f.refuseUnknown(known: CodingKeys.allCases.map(\.rawValue), commentPrefix: "_")
            let d = Thresholds()
            func seconds(_ key: CodingKeys) throws(SchemaProblem) -> Double? {
                try f.number(key.rawValue, bounds: .nonNegative(), expected: "a non-negative number of seconds")
            }
            func count(_ key: CodingKeys) throws(SchemaProblem) -> Int? {
                try f.integer(key.rawValue, range: 0...Int.max)
            }
            return Thresholds(
                longTurnSeconds: try seconds(.longTurnSeconds) ?? d.longTurnSeconds,
                waitSeconds: try seconds(.waitSeconds) ?? d.waitSeconds,
                waitShare: try f.number(CodingKeys.waitShare.rawValue, bounds: .nonNegative(atMost: 1), expected: "a share from 0 to 1")
                    ?? d.waitShare,
                manyToolCalls: try count(.manyToolCalls) ?? d.manyToolCalls,
                manySources: try count(.manySources) ?? d.manySources,
                verificationLoops: try count(.verificationLoops) ?? d.verificationLoops,
                smallTurnSeconds: try seconds(.smallTurnSeconds) ?? d.smallTurnSeconds,
                launchGraceSeconds: try seconds(.launchGraceSeconds) ?? d.launchGraceSeconds)
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

        /// Decoding reads through the schema layer, as ``AuditConfig/parse(_:)`` does.
        public init(from decoder: any Decoder) throws {
            let reader = SchemaReader(mode: .failFast, rootName: "the delivery")
            guard let fields = try reader.object(try JSONValue(from: decoder), at: "") else { throw reader.lastProblem(at: "") }
            self = try Self.read(fields)
        }

        static func read(_ f: JSONFields) throws(SchemaProblem) -> Delivery {
            try f.refuseUnknown(known: CodingKeys.allCases.map(\.rawValue), commentPrefix: "_")
            let d = Delivery()
            func surface(_ key: CodingKeys) throws(SchemaProblem) -> String? {
                try f.string(key.rawValue, length: .bytes(1...128), expected: "a surface id such as \"hooks:local\"")
            }
            return Delivery(
                origin: try surface(.origin) ?? d.origin,
                finalSurface: try surface(.finalSurface) ?? d.finalSurface,
                deliveryMode: try f.oneOf(CodingKeys.deliveryMode.rawValue, DeliveryMode.self)?.rawValue ?? d.deliveryMode,
                recipe: try f.string(CodingKeys.recipe.rawValue, length: .bytes(1...64), expected: "a recipe name") ?? d.recipe,
                textParameter: try f.string(CodingKeys.textParameter.rawValue, length: .bytes(1...64), expected: "a parameter name")
                    ?? d.textParameter,
                maxChars: try f.integer(CodingKeys.maxChars.rawValue, range: 1...Int.max) ?? d.maxChars)
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case thresholds, delivery
    }

    /// Decoding reads through the schema layer, as ``parse(_:)`` does.
    public init(from decoder: any Decoder) throws {
        self = try Self.read(try JSONValue(from: decoder))
    }

    /// Reads a config document through the schema layer: every key optional, unknown keys refused
    /// (`_`-prefixed keys are comments), each value type- and range-checked; the first problem
    /// names its full path (`thresholds.many_tool_calls`).
    static func read(_ root: JSONValue) throws(SchemaProblem) -> AuditConfig {
        let reader = SchemaReader(mode: .failFast, nullIsAbsent: true, rootName: "the audit config")
        guard let top = try reader.object(root, at: "", known: CodingKeys.allCases.map(\.rawValue), commentPrefix: "_") else {
            throw reader.lastProblem(at: "")
        }
        return AuditConfig(
            thresholds: try top.object(CodingKeys.thresholds.rawValue).map(Thresholds.read) ?? Thresholds(),
            delivery: try top.object(CodingKeys.delivery.rawValue).map(Delivery.read) ?? Delivery())
    }

    /// Parses config bytes (strict JSON: duplicate keys refused).
    public static func parse(_ data: Data) throws(AuditError) -> AuditConfig {
        do {
            return try read(try StrictJSON.parse(Array(data)))
        } catch let error as SchemaProblem {
            throw AuditError(.invalidConfig, error.message)
        } catch {
            throw AuditError(.invalidConfig, "not valid JSON: \(error)")
        }
    }

    /// Reads a config file; a missing or invalid file is an `AuditError` naming the file.
    public static func load(from url: URL) throws(AuditError) -> AuditConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw AuditError(.invalidConfig, "cannot read the audit config \(url.path): \(error.localizedDescription)")
        }
        do { return try parse(data) } catch {
            throw AuditError(.invalidConfig, "\(url.path): \(error.message)")
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
