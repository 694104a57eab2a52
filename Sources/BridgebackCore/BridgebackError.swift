/// The one error type of the domain core.
///
/// Shaped like postgres-nio's `PSQLError`: a `Code` a caller can switch on, the context that
/// names *what* went wrong (job, surface, field, schema), and a message a person can act on.
/// Admission maps contract codes to HTTP 422; the coordinator logs decoding codes and drops
/// (or dead-letters) the message instead of crashing.
public struct BridgebackError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, switchable error code. New codes may be added; match with a `default` case.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidJobID = "invalid_job_id"
            case invalidDeliveryID = "invalid_delivery_id"
            case invalidSurfaceID = "invalid_surface_id"
            case unknownSurface = "unknown_surface"
            case missingFinalSurface = "missing_final_surface"
            case directNotAllowed = "direct_not_allowed"
            case invalidContract = "invalid_contract"
            case invalidSurfaceRegistry = "invalid_surface_registry"
            case missingSecret = "missing_secret"
            case missingSchema = "missing_schema"
            case unknownSchema = "unknown_schema"
            case unsupportedSchemaVersion = "unsupported_schema_version"
            case unexpectedSchema = "unexpected_schema"
            case malformedMessage = "malformed_message"
            case invalidTransition = "invalid_transition"
            case conflictingContract = "conflicting_contract"
            case limitTooSmall = "limit_too_small"
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A job id that is not `job_` + 26 Crockford base32 characters.
        public static let invalidJobID = Code(.invalidJobID)
        /// A delivery id that is not `dlv_<job>_<n>` or `dlv_<job>_fallback_<n>`.
        public static let invalidDeliveryID = Code(.invalidDeliveryID)
        /// A surface id with characters outside `[a-z0-9:._/-]` or empty.
        public static let invalidSurfaceID = Code(.invalidSurfaceID)
        /// A request or contract names a surface the registry does not know.
        public static let unknownSurface = Code(.unknownSurface)
        /// No final surface was given and the origin offers no default.
        public static let missingFinalSurface = Code(.missingFinalSurface)
        /// `direct` delivery to a surface whose registry entry has `direct_allowed: false`.
        public static let directNotAllowed = Code(.directNotAllowed)
        /// Any other contract field that cannot be accepted (deadline in the past, empty summary…).
        public static let invalidContract = Code(.invalidContract)
        /// The surface registry file is unreadable or has problems; see `problems`.
        public static let invalidSurfaceRegistry = Code(.invalidSurfaceRegistry)
        /// A webhook secret or chat bot token named by an env var that is unset or invalid.
        public static let missingSecret = Code(.missingSecret)
        /// A message without a `schema` field (or not a JSON object).
        public static let missingSchema = Code(.missingSchema)
        /// A `schema` that is not a Bridgeback message kind.
        public static let unknownSchema = Code(.unknownSchema)
        /// A known message kind at a version this build does not read.
        public static let unsupportedSchemaVersion = Code(.unsupportedSchemaVersion)
        /// A valid schema, but not the one the caller asked to decode.
        public static let unexpectedSchema = Code(.unexpectedSchema)
        /// The schema was accepted but the body does not decode.
        public static let malformedMessage = Code(.malformedMessage)
        /// A state machine was asked to do something its current state forbids.
        public static let invalidTransition = Code(.invalidTransition)
        /// A second contract for the same job that differs from the first.
        public static let conflictingContract = Code(.conflictingContract)
        /// A length limit too small to hold even one character or a fence marker.
        public static let limitTooSmall = Code(.limitTooSmall)

        /// The snake_case wire/log form, e.g. `unknown_surface`.
        public var description: String { base.rawValue }
    }

    /// What went wrong, to switch on.
    public var code: Code
    /// A sentence a person can act on: what is wrong and what to change.
    public var message: String
    /// The job concerned, if any.
    public var jobID: String?
    /// The surface concerned, if any.
    public var surfaceID: String?
    /// The field (JSON key path) concerned, if any.
    public var field: String?
    /// The message schema concerned, if any.
    public var schema: String?
    /// For aggregate errors (registry validation): every individual problem found.
    public var problems: [BridgebackError]

    public init(
        _ code: Code,
        _ message: String,
        jobID: String? = nil,
        surfaceID: String? = nil,
        field: String? = nil,
        schema: String? = nil,
        problems: [BridgebackError] = []
    ) {
        self.code = code
        self.message = message
        self.jobID = jobID
        self.surfaceID = surfaceID
        self.field = field
        self.schema = schema
        self.problems = problems
    }

    /// One loggable line: `code: message [surface=… field=…]`.
    public var description: String {
        var context: [String] = []
        if let jobID { context.append("job=\(jobID)") }
        if let surfaceID { context.append("surface=\(surfaceID)") }
        if let field { context.append("field=\(field)") }
        if let schema { context.append("schema=\(schema)") }
        let suffix = context.isEmpty ? "" : " [" + context.joined(separator: " ") + "]"
        return "\(code): \(message)\(suffix)"
    }
}
