/// Why authentication, authorization or a principals file failed: a code to switch on and a
/// message a person can act on. Never carries a token.
public struct AuthError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidPrincipals = "invalid_principals"
            case unauthenticated = "unauthenticated"
            case forbidden = "forbidden"
            case insecureConfiguration = "insecure_configuration"
            case tokenUnavailable = "token_unavailable"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The principals file cannot be read or is not valid.
        public static let invalidPrincipals = Code(.invalidPrincipals)
        /// No bearer token, or one no principal holds (HTTP 401).
        public static let unauthenticated = Code(.unauthenticated)
        /// Authenticated, but the principal may not do this (HTTP 403).
        public static let forbidden = Code(.forbidden)
        /// A configuration that would listen unauthenticated outside loopback.
        public static let insecureConfiguration = Code(.insecureConfiguration)
        /// A client found no token to send (BRIDGEBACK_TOKEN, the token file).
        public static let tokenUnavailable = Code(.tokenUnavailable)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// The request field an authorization refusal concerns (`origin`, `contract.final_surface`…).
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code): \(message)" + (field.map { " [field=\($0)]" } ?? "") }
}
