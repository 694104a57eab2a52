import Foundation
public import Hummingbird
public import HummingbirdAuth
public import Logging
public import NIOCore

/// How an HTTP server decides who is calling: principals from a file, or (loopback-only
/// development) nobody checked at all.
public enum HTTPAuth: Sendable {
    /// Every request except `GET /health` needs `Authorization: Bearer <token>` of a principal.
    case principals(PrincipalDirectory)
    /// `--insecure-no-auth`: every request acts as an unrestricted operator. Refused unless the
    /// server listens on loopback only.
    case insecureNoAuth

    /// The mode for a server about to listen on `host`, from its flags.
    ///
    /// - Throws: `insecureConfiguration` for `--insecure-no-auth` on a non-loopback host, or no
    ///   principals file at all; `invalidPrincipals` for a bad file.
    public static func configure(
        principalsFile: String?, insecureNoAuth: Bool, host: String, server: String, logger: Logger
    ) throws(AuthError) -> HTTPAuth {
        if insecureNoAuth {
            guard isLoopback(host) else {
                throw AuthError(
                    .insecureConfiguration,
                    "--insecure-no-auth is for loopback development only, and \(server) would listen on '\(host)'; give --principals FILE (bridgeback principals add creates one) or listen on 127.0.0.1"
                )
            }
            if let principalsFile, !principalsFile.isEmpty {
                throw AuthError(
                    .insecureConfiguration, "--insecure-no-auth and --principals \(principalsFile) contradict each other; drop one")
            }
            logger.critical(
                "AUTHENTICATION IS OFF (--insecure-no-auth): anyone who can reach \(host) may submit, read and cancel every job as an operator; never use this outside loopback development",
                metadata: ["http.host": "\(host)", "server": "\(server)"])
            return .insecureNoAuth
        }
        guard let principalsFile, !principalsFile.isEmpty else {
            throw AuthError(
                .insecureConfiguration,
                "\(server) needs a principals file: --principals FILE or BRIDGEBACK_PRINCIPALS (create one with 'bridgeback principals add --file FILE --name NAME --origins ...'); for loopback development only, --insecure-no-auth"
            )
        }
        let directory = try PrincipalDirectory(file: URL(fileURLWithPath: principalsFile), logger: logger)
        logger.info(
            "bearer-token authentication on",
            metadata: ["principals.file": "\(principalsFile)", "principals.count": "\(directory.principalCount)"])
        if directory.principalCount == 0 {
            logger.warning("the principals file names no principal: every request except GET /health will be refused with 401")
        }
        return .principals(directory)
    }

    /// Whether `host` is a loopback address or name (`127.0.0.0/8`, `::1`, `localhost`).
    public static func isLoopback(_ host: String) -> Bool {
        let trimmed = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if trimmed == "localhost" || trimmed == "::1" { return true }
        let octets = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Installs authentication on `router`: every route added *after* this call requires a
    /// principal (Hummingbird applies router middleware to later routes only). Add `GET /health`
    /// before calling it, everything else after.
    public func protect(_ router: Router<BridgebackRequestContext>, logger: Logger) {
        router.add(middleware: BearerPrincipalAuthenticator(auth: self, logger: logger))
        router.add(middleware: RequirePrincipal(logger: logger))
    }
}

/// The request context of Bridgeback's HTTP servers: Hummingbird's, plus the authenticated
/// principal (`identity`) and the peer address for logs.
public struct BridgebackRequestContext: AuthRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Principal?
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// The authenticated principal; routes after `HTTPAuth.protect` always have one.
    public var principal: Principal {
        get throws { try requireIdentity() }
    }
}

/// hummingbird-auth's `AuthenticatorMiddleware`: reads `Authorization: Bearer` (via
/// `HTTPFields.bearer`) and attaches the principal holding that token, if any.
public struct BearerPrincipalAuthenticator: AuthenticatorMiddleware {
    public typealias Context = BridgebackRequestContext
    public typealias Identity = Principal

    let auth: HTTPAuth
    let logger: Logger

    public func authenticate(request: Request, context: Context) async throws -> Principal? {
        switch auth {
        case .insecureNoAuth:
            return .unrestricted(name: "insecure-no-auth")
        case .principals(let directory):
            guard let bearer = request.headers.bearer, !bearer.token.isEmpty else { return nil }
            guard let (principal, tokenID) = directory.authenticate(token: bearer.token) else { return nil }
            logger.trace("authenticated", metadata: ["principal": "\(principal.name)", "token.id": "\(tokenID)"])
            return principal
        }
    }
}

/// Answers 401 (JSON body, `WWW-Authenticate: Bearer`) when no principal was attached, and
/// logs the attempt without the token.
public struct RequirePrincipal: RouterMiddleware {
    public typealias Context = BridgebackRequestContext
    let logger: Logger

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let principal = context.identity {
            var context = context
            context.logger[metadataKey: "principal"] = "\(principal.name)"
            return try await next(request, context)
        }
        let header = request.headers[.authorization]
        let (reason, challenge, message): (String, String, String)
        if header == nil {
            reason = "no Authorization header"
            challenge = #"Bearer realm="bridgeback""#
            message =
                "this endpoint needs a bearer token: send 'Authorization: Bearer <token>' (the CLI reads BRIDGEBACK_TOKEN or --token-file)"
        } else if request.headers.bearer == nil || request.headers.bearer?.token.isEmpty == true {
            reason = "Authorization is not a Bearer token"
            challenge = #"Bearer realm="bridgeback", error="invalid_request""#
            message = "the Authorization header must be 'Bearer <token>'"
        } else {
            reason = "unknown or revoked token"
            challenge = #"Bearer realm="bridgeback", error="invalid_token""#
            message = "the bearer token is not valid here (unknown, revoked, or for another deployment); ask an operator for a token"
        }
        logger.warning(
            "authentication failed",
            metadata: [
                "reason": "\(reason)", "http.method": "\(request.method)", "http.path": "\(request.uri.path)",
                "peer": "\(context.remoteAddress?.ipAddress ?? "unknown")",
            ])
        return HTTPAuthResponse.json(
            status: .unauthorized, code: AuthError.Code.unauthenticated.description, message: message,
            headers: [.wwwAuthenticate: challenge])
    }
}

/// JSON error answers in the shape every Bridgeback API uses: `{"error": {"code", "message", "field"?}}`.
public enum HTTPAuthResponse {
    public static func json(
        status: HTTPResponse.Status, code: String, message: String, field: String? = nil, headers: HTTPFields = [:]
    ) -> Response {
        var error: [String: String] = ["code": code, "message": message]
        if let field { error["field"] = field }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(["error": error])) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
