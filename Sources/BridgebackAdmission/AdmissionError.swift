public import BridgebackCore

/// Why admission refused a request: a code to switch on, the HTTP status it maps to, and a
/// message a person can act on. Every refusal is answered as `{"error": {"code", "message"}}`
/// and admits nothing (no request, job or outbox row); a contract refusal of a request that
/// would detach is recorded in `contract_refusals` for the audit.
public struct AdmissionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, switchable code; its `description` is the snake_case wire form.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case malformedJSON = "malformed_json"
            case bodyTooLarge = "body_too_large"
            case invalidRequest = "invalid_request"
            case unknownSurface = "unknown_surface"
            case missingFinalSurface = "missing_final_surface"
            case directNotAllowed = "direct_not_allowed"
            case invalidContract = "invalid_contract"
            case unknownRecipe = "unknown_recipe"
            case invalidRecipeParams = "invalid_recipe_params"
            case notFound = "not_found"
            case invalidOutcome = "invalid_outcome"
            case storeFailure = "store_failure"
            case forbidden = "forbidden"
            case cancelUnavailable = "cancel_unavailable"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The body is not JSON, or not an object.
        public static let malformedJSON = Code(.malformedJSON)
        /// The body is larger than the configured limit.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// A field is missing, empty or of the wrong type.
        public static let invalidRequest = Code(.invalidRequest)
        /// A surface id that is not in the registry.
        public static let unknownSurface = Code(.unknownSurface)
        /// No final surface given and the origin has no default.
        public static let missingFinalSurface = Code(.missingFinalSurface)
        /// `direct` delivery to a surface that does not allow it.
        public static let directNotAllowed = Code(.directNotAllowed)
        /// Any other contract field that cannot be accepted.
        public static let invalidContract = Code(.invalidContract)
        /// A recipe name that is not in the catalog.
        public static let unknownRecipe = Code(.unknownRecipe)
        /// Recipe parameters that do not match the recipe's declaration.
        public static let invalidRecipeParams = Code(.invalidRecipeParams)
        /// No such job (or route).
        public static let notFound = Code(.notFound)
        /// An inline outcome that cannot be true of its request (e.g. for a detached request).
        public static let invalidOutcome = Code(.invalidOutcome)
        /// The request log could not be written; nothing was admitted.
        public static let storeFailure = Code(.storeFailure)
        /// The authenticated principal may not do this (an origin, surface or parent outside its scope).
        public static let forbidden = Code(.forbidden)
        /// A cancel could not reach the coordinator that decides it (none configured, down, or
        /// it does not know the job yet); nothing was cancelled, retry.
        public static let cancelUnavailable = Code(.cancelUnavailable)

        public var description: String { base.rawValue }

        /// The HTTP status this code is answered with.
        public var httpStatus: Int {
            switch base {
            case .malformedJSON, .invalidRequest: 400
            case .bodyTooLarge: 413
            case .notFound: 404
            case .forbidden: 403
            case .storeFailure, .cancelUnavailable: 503
            case .unknownSurface, .missingFinalSurface, .directNotAllowed, .invalidContract, .unknownRecipe, .invalidRecipeParams,
                .invalidOutcome:
                422
            }
        }
    }

    public var code: Code
    /// What is wrong and what to change.
    public var message: String
    /// The request field concerned (JSON key path), if any.
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    /// Maps a contract refusal from the domain core onto admission codes (all 422).
    public init(contract error: BridgebackError) {
        let code: Code
        switch error.code {
        case .unknownSurface, .invalidSurfaceID: code = .unknownSurface
        case .missingFinalSurface: code = .missingFinalSurface
        case .directNotAllowed: code = .directNotAllowed
        default: code = .invalidContract
        }
        self.init(code, error.message, field: error.field)
    }

    public var description: String {
        "\(code): \(message)" + (field.map { " [field=\($0)]" } ?? "")
    }
}
