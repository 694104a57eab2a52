import BridgebackCore
import Crypto
public import Foundation
public import Hummingbird
public import Logging
import MCP
import NIOCore
public import ServiceLifecycle

/// The MCP streamable HTTP transport (MCP spec 2025-03-26 and later) served by Hummingbird at
/// `/mcp`, behind a bearer token.
///
/// The SDK's `StatefulHTTPServerTransport` does the protocol (session ids, SSE streams, the
/// standalone GET stream for notifications, DELETE to end a session); this type only routes
/// each request to its session's transport, creates a session on `initialize`, checks the
/// token, and ends idle sessions. Every request without `Authorization: Bearer <token>` gets 401,
/// before anything else is read. `GET /health` answers without a token.
public actor MCPHTTPSessions {
    struct Entry {
        let session: MCPSession
        let transport: StatefulHTTPServerTransport
        var lastUsed: Date
    }

    let server: BridgebackMCPServer
    let allowLocalOriginsOnly: Bool
    let logger: Logger
    private var sessions: [String: Entry] = [:]
    /// Upper bound on concurrent sessions: a client that opens sessions without end cannot exhaust the process.
    let maxSessions: Int

    public init(server: BridgebackMCPServer, loopback: Bool, maxSessions: Int = 64, logger: Logger) {
        self.server = server
        self.allowLocalOriginsOnly = loopback
        self.maxSessions = maxSessions
        self.logger = logger
    }

    public var count: Int { sessions.count }

    func handle(_ request: MCP.HTTPRequest) async -> MCP.HTTPResponse {
        let id = request.header(HTTPHeaderName.sessionID)
        if let id, var entry = sessions[id] {
            entry.lastUsed = Date()
            sessions[id] = entry
            let response = await entry.transport.handleRequest(request)
            if request.method.uppercased() == "DELETE", response.statusCode == 200 {
                sessions[id] = nil
                await entry.session.stop()
                logger.info("mcp session ended by the client", metadata: ["mcp.session": "\(id)"])
            }
            return response
        }
        if id != nil {
            return .error(statusCode: 404, .invalidRequest("Not Found: session unknown or expired; initialize a new one"))
        }
        guard request.method.uppercased() == "POST", let body = request.body, Self.isInitialize(body) else {
            return .error(
                statusCode: 400, .invalidRequest("Bad Request: missing \(HTTPHeaderName.sessionID) header (send initialize first)"))
        }
        guard sessions.count < maxSessions else {
            return .error(
                statusCode: 503,
                .internalError("too many MCP sessions (\(maxSessions)); end one (DELETE /mcp) or wait for idle ones to expire"))
        }
        let newID = UUID().uuidString
        let transport = StatefulHTTPServerTransport(
            sessionIDGenerator: FixedSessionID(id: newID),
            validationPipeline: StandardValidationPipeline(validators: [
                allowLocalOriginsOnly ? OriginValidator.localhost() : OriginValidator.disabled,
                AcceptHeaderValidator(mode: .sseRequired), ContentTypeValidator(), ProtocolVersionValidator(), SessionValidator(),
            ]),
            logger: logger)
        let session = await server.makeSession()
        do {
            try await session.start(transport: transport)
        } catch {
            await session.stop()
            return .error(statusCode: 500, .internalError("could not start the session: \(error)"))
        }
        sessions[newID] = Entry(session: session, transport: transport, lastUsed: Date())
        let response = await transport.handleRequest(request)
        if case .error = response {
            sessions[newID] = nil
            await session.stop()
        } else {
            logger.info("mcp session started", metadata: ["mcp.session": "\(newID)"])
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
        let now = Date()
        for (id, entry) in sessions where now.timeIntervalSince(entry.lastUsed) > idle {
            sessions[id] = nil
            await entry.session.stop()
            logger.info("mcp session expired", metadata: ["mcp.session": "\(id)"])
        }
    }

    func stopAll() async {
        for (_, entry) in sessions { await entry.session.stop() }
        sessions.removeAll()
    }
}

struct FixedSessionID: SessionIDGenerator {
    let id: String
    func generateSessionID() -> String { id }
}

/// The Hummingbird side of the streamable HTTP transport.
public enum MCPHTTPServer {
    /// Routes: `POST|GET|DELETE /mcp` (bearer token required), `GET /health`.
    public static func router(sessions: MCPHTTPSessions, token: String, maxBodyBytes: Int = 4 << 20) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        let expected = Array(SHA256.hash(data: Data(token.utf8)))
        let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
            guard authorized(request, expected: expected) else {
                return Response(
                    status: .unauthorized,
                    headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer realm=\"bridgeback-mcp\""],
                    body: ResponseBody(
                        byteBuffer: ByteBuffer(
                            string:
                                #"{"error":{"code":"unauthorized","message":"send Authorization: Bearer <token> (the token bridgeback mcp was started with)"}}"#
                        )))
            }
            let body: Data?
            do {
                let buffer = try await request.body.collect(upTo: maxBodyBytes)
                body = buffer.readableBytes > 0 ? Data(buffer.readableBytesView) : nil
            } catch {
                return Response(
                    status: .contentTooLarge,
                    body: ResponseBody(byteBuffer: ByteBuffer(string: "request body larger than \(maxBodyBytes) bytes")))
            }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let answer = await sessions.handle(
                MCP.HTTPRequest(method: request.method.rawValue, headers: headers, body: body, path: request.uri.path))
            return response(answer)
        }
        router.post("/mcp", use: handler)
        router.get("/mcp", use: handler)
        router.delete("/mcp", use: handler)
        router.get("/health") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        return router
    }

    /// Constant-time comparison of the presented token's hash with the expected one.
    static func authorized(_ request: Request, expected: [UInt8]) -> Bool {
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else { return false }
        let presented = Array(SHA256.hash(data: Data(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)))
        var difference: UInt8 = 0
        for (a, b) in zip(presented, expected) { difference |= a ^ b }
        return difference == 0
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

    /// The HTTP server plus the idle-session sweeper, as one `Service`.
    public static func service(
        sessions: MCPHTTPSessions, token: String, host: String, port: Int, idleTimeout: TimeInterval = 3600, logger: Logger
    ) -> some Service {
        MCPHTTPService(sessions: sessions, token: Redacted(token), host: host, port: port, idleTimeout: idleTimeout, logger: logger)
    }
}

struct MCPHTTPService: Service {
    let sessions: MCPHTTPSessions
    let token: Redacted<String>
    let host: String
    let port: Int
    let idleTimeout: TimeInterval
    let logger: Logger

    func run() async throws {
        let app = Application(
            router: MCPHTTPServer.router(sessions: sessions, token: token.value),
            configuration: .init(address: .hostname(host, port: port), serverName: "bridgeback-mcp"),
            onServerRunning: { [logger, host, port] channel in
                logger.info(
                    "mcp listening",
                    metadata: ["http.host": "\(host)", "http.port": "\(channel.localAddress?.port ?? port)", "path": "/mcp"])
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
