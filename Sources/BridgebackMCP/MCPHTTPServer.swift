public import BridgebackAuth
import BridgebackCore
public import BridgebackHTTP
public import Foundation
public import Hummingbird
public import Logging
import MCP
import NIOCore
public import ServiceLifecycle

/// The MCP streamable HTTP transport (MCP spec 2025-03-26 and later) served by Hummingbird at
/// `/mcp`, behind the same bearer-token authentication as admission.
///
/// The SDK's `StatefulHTTPServerTransport` does the protocol (session ids, SSE streams, the
/// standalone GET stream for notifications, DELETE to end a session); this type routes each
/// request to its session, opens a session on `initialize` for the principal that sent it, and
/// ends idle sessions. Who may call is decided before this type sees a request: the principals
/// file and `HTTPAuth.protect`, exactly as admission does it (401 without or with an unknown
/// token, before the body is read). A session is bound to the token that opened it
/// (`SessionTable`), and its calls to admission and the coordinator carry that token.
public actor MCPHTTPSessions {
    struct Live {
        let session: MCPSession
        let transport: StatefulHTTPServerTransport
        let caller: MCPCaller
    }

    let server: BridgebackMCPServer
    let allowLocalOriginsOnly: Bool
    let logger: Logger
    private var table: SessionTable<Live>

    /// - Parameter maxSessions: upper bound on concurrent sessions, so a client that opens
    ///   sessions without end cannot exhaust the process.
    public init(server: BridgebackMCPServer, loopback: Bool, maxSessions: Int = 64, logger: Logger) {
        self.server = server
        self.allowLocalOriginsOnly = loopback
        self.table = SessionTable(maxSessions: maxSessions)
        self.logger = logger
    }

    public var count: Int { table.count }

    /// One authenticated request: `principal` holds `token` (checked by the middleware).
    func handle(_ request: MCP.HTTPRequest, principal: Principal, token: String?) async -> MCP.HTTPResponse {
        let id = request.header(HTTPHeaderName.sessionID)
        let owner = BearerToken.digest(token ?? "")
        let isInitialize = request.method.uppercased() == "POST" && request.body.map(Self.isInitialize) == true
        switch table.route(sessionID: id, owner: owner, isInitialize: isInitialize, now: Date()) {
        case .serve(let live):
            live.caller.update(principal: principal)
            let response = await live.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200, let id {
                _ = table.close(id: id)
                await live.session.stop()
                logger.info("mcp session ended by the client", metadata: ["mcp.session": "\(id)", "principal": "\(principal.name)"])
            }
            return response
        case .otherOwner:
            logger.warning(
                "mcp session refused: it belongs to another token",
                metadata: ["mcp.session": "\(id ?? "")", "principal": "\(principal.name)"])
            return Self.unknownSession
        case .unknownSession:
            return Self.unknownSession
        case .needsInitialize:
            return .error(
                statusCode: 400, .invalidRequest("Bad Request: missing \(HTTPHeaderName.sessionID) header (send initialize first)"))
        case .full:
            return .error(
                statusCode: 503,
                .internalError("too many MCP sessions (\(table.maxSessions)); end one (DELETE /mcp) or wait for idle ones to expire"))
        case .open:
            return await open(request, principal: principal, token: token, owner: owner)
        }
    }

    static let unknownSession = MCP.HTTPResponse.error(
        statusCode: 404, .invalidRequest("Not Found: session unknown or expired; initialize a new one"))

    private func open(_ request: MCP.HTTPRequest, principal: Principal, token: String?, owner: [UInt8]) async -> MCP.HTTPResponse {
        let newID = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: newID),
            validationPipeline: StandardValidationPipeline(validators: [
                allowLocalOriginsOnly ? OriginValidator.localhost() : OriginValidator.disabled,
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(), SessionValidator(),
            ]),
            logger: logger)
        let caller = MCPCaller.principal(principal, token: token)
        let session = await server.makeSession(caller: caller)
        do {
            try await session.start(transport: transport)
        } catch {
            table.abandoned()
            await session.stop()
            return .error(statusCode: 500, .internalError("could not start the session: \(error)"))
        }
        table.opened(id: newID, session: Live(session: session, transport: transport, caller: caller), owner: owner, now: Date())
        let response = await transport.handleRequest(request)
        if case .error = response {
            _ = table.close(id: newID)
            await session.stop()
        } else {
            logger.info("mcp session started", metadata: ["mcp.session": "\(newID)", "principal": "\(principal.name)"])
        }
        return response
    }

    /// Whether a POST body is a JSON-RPC `initialize` request (the only one that may open a session).
    static func isInitialize(_ body: Data) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
        return object["method"] as? String == "initialize" && object["id"] != nil
    }

    /// Ends sessions idle for longer than `idle`.
    func expire(idle: TimeInterval) async {
        for (id, live) in table.expire(idle: idle, now: Date()) {
            await live.session.stop()
            logger.info("mcp session expired", metadata: ["mcp.session": "\(id)"])
        }
    }

    func stopAll() async {
        for live in table.removeAll() { await live.session.stop() }
    }
}

struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}

/// The Hummingbird side of the streamable HTTP transport.
public enum MCPHTTPServer {
    /// Routes: `GET /health` (open), then `POST|GET|DELETE /mcp` behind `auth`.
    public static func router(
        sessions: MCPHTTPSessions, auth: HTTPAuth, logger: Logger, maxBodyBytes: Int = 4 << 20
    ) -> Router<BridgebackRequestContext> {
        let router = Router(context: BridgebackRequestContext.self)
        router.add(middleware: JSONErrorMiddleware())
        router.get("/health") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        auth.protect(router, logger: logger)
        let handler: @Sendable (Request, BridgebackRequestContext) async throws -> Response = { request, context in
            let principal = try context.principal
            let body: Data?
            do {
                let buffer = try await request.body.collect(upTo: maxBodyBytes)
                body = buffer.readableBytes > 0 ? Data(buffer.readableBytesView) : nil
            } catch {
                return HTTPAuthResponse.json(
                    status: .contentTooLarge, code: "body_too_large", message: "request body larger than \(maxBodyBytes) bytes")
            }
            var headers: [String: String] = [:]
            // The token stays here: the SDK's transport has no use for it.
            for field in request.headers where field.name != .authorization { headers[field.name.canonicalName] = field.value }
            let answer = await sessions.handle(
                MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: request.uri.path),
                principal: principal, token: request.headers.bearer?.token)
            return response(answer)
        }
        router.post("/mcp", use: handler)
        router.get("/mcp", use: handler)
        router.delete("/mcp", use: handler)
        return router
    }

    static func response(_ answer: MCP.HTTPResponse) -> Response {
        var fields = HTTPFields()
        for (name, value) in answer.headers {
            if let field = HTTPFields.Element.Name(name) { fields[field] = value }
        }
        switch answer {
        case .stream(let stream, _):
            return Response(
                status: .ok, headers: fields,
                body: ResponseBody { writer in
                    for try await chunk in stream { try await writer.write(ByteBuffer(bytes: chunk)) }
                    try await writer.finish(nil)
                })
        default:
            let body = answer.bodyData.map { ResponseBody(byteBuffer: ByteBuffer(bytes: $0)) } ?? ResponseBody()
            return Response(status: .init(code: answer.statusCode), headers: fields, body: body)
        }
    }

    /// The HTTP server (with the same limits and TLS as admission) plus the idle-session
    /// sweeper, as one `Service`.
    public static func service(
        sessions: MCPHTTPSessions, auth: HTTPAuth, host: String, port: Int, limits: HTTPServerLimits = .init(),
        idleTimeout: TimeInterval = 3600, logger: Logger
    ) -> some Service {
        MCPHTTPService(sessions: sessions, auth: auth, host: host, port: port, limits: limits, idleTimeout: idleTimeout, logger: logger)
    }
}

struct MCPHTTPService: Service {
    let sessions: MCPHTTPSessions
    let auth: HTTPAuth
    let host: String
    let port: Int
    let limits: HTTPServerLimits
    let idleTimeout: TimeInterval
    let logger: Logger

    func run() async throws {
        let app = Application(
            router: MCPHTTPServer.router(sessions: sessions, auth: auth, logger: logger),
            server: limits.serverBuilder(logger: logger),
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-mcp"),
            onServerRunning: { [logger, host, port, limits] channel in
                logger.info(
                    "mcp listening",
                    metadata: [
                        "http.host": "\(host)", "http.port": "\(channel.localAddress?.port ?? port)", "path": "/mcp",
                        "tls": "\(limits.tls != nil)",
                    ])
            },
            logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(min(60, idleTimeout))) }
                    await sessions.expire(idle: idleTimeout)
                }
            }
            group.addTask {
                try await app.run()
                await sessions.stopAll()
            }
        }
    }
}
