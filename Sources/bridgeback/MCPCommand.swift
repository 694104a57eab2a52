import ArgumentParser
import BridgebackAMQP
import BridgebackAuth
import BridgebackCore
import BridgebackMCP
import Foundation
import Logging
import MCP
import ServiceLifecycle

/// `bridgeback mcp`: the Bridgeback tools for MCP-capable assistants, over stdio or streamable HTTP.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve Bridgeback to an AI assistant over the Model Context Protocol (stdio or HTTP).",
        discussion: """
            Tools: bridgeback_decide, bridgeback_detach, bridgeback_job, bridgeback_jobs,
            bridgeback_cancel, bridgeback_inbox, bridgeback_outcome (docs/assistants.md).
            The server is a client of admission and the coordinator status API over HTTP
            with its caller's token, so a caller can do what its token may do and nothing
            more. With --parent it also reads the parent inbox from the broker
            (durable queue bb.watch.<name>.inbox.<parent> as the person's scoped watcher
            bb-watch-<name>, bb.watch.inbox.<parent> as bb-watch): final notices of
            parent-mediated jobs wait there, unacknowledged, until the assistant takes
            them with bridgeback_inbox; new ones are announced as MCP log messages.

            --transport stdio (default): one assistant, on stdin/stdout; logs go to
            stderr. Calls carry the token from BRIDGEBACK_TOKEN or the token file.
            --transport http: streamable HTTP at http(s)://HOST:PORT/mcp, behind the
            authentication admission uses: every request except GET /health needs
            'Authorization: Bearer <token>' of a principal in --principals (required;
            401 otherwise). A session belongs to the token that opened it (any other
            token gets 404 for it); its calls to admission and the coordinator carry
            that token, so their scopes apply; the inbox opens only if the
            principal's parents scope covers --parent. --tls-certificate/--tls-key
            serve HTTPS only; on a non-loopback --host without them, put a
            TLS-terminating proxy in front (docs/security.md). --http-token-file and
            BRIDGEBACK_MCP_HTTP_TOKEN (one shared token) were removed.

            Environment:
              BRIDGEBACK_ADMISSION_URL     default for --admission
              BRIDGEBACK_COORDINATOR_URL   default for --coordinator
              BRIDGEBACK_MCP_ORIGIN        default for --origin
              BRIDGEBACK_MCP_PARENT        default for --parent
              BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE   stdio: the token sent
              BRIDGEBACK_PRINCIPALS        http: default for --principals
              BRIDGEBACK_TLS_CERTIFICATE   http: default for --tls-certificate
              BRIDGEBACK_TLS_KEY           http: default for --tls-key
              BRIDGEBACK_WATCH_AMQP_URL    broker, for the inbox (else BRIDGEBACK_AMQP_URL)
            """
    )

    @Option(help: ArgumentHelp("stdio or http.", valueName: "transport"))
    var transport: String = "stdio"

    @Option(help: ArgumentHelp("Admission URL. Env: BRIDGEBACK_ADMISSION_URL.", valueName: "url"))
    var admission: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_ADMISSION_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://127.0.0.1:8080"

    @Option(help: ArgumentHelp("Coordinator status API URL; empty: none. Env: BRIDGEBACK_COORDINATOR_URL.", valueName: "url"))
    var coordinator: String = ProcessInfo.processInfo.environment["BRIDGEBACK_COORDINATOR_URL"] ?? "http://127.0.0.1:8090"

    @Option(
        help: ArgumentHelp("Origin surface of this assistant's requests, e.g. cli:alice. Env: BRIDGEBACK_MCP_ORIGIN.", valueName: "surface")
    )
    var origin: String?

    @Option(
        help: ArgumentHelp(
            "Parent key: parent-mediated answers for this assistant arrive on bb.inbox with this routing key (the origin inbox surface's address). Env: BRIDGEBACK_MCP_PARENT.",
            valueName: "key"))
    var parent: String?

    @Option(
        help: ArgumentHelp("Broker URL for the inbox (default: BRIDGEBACK_WATCH_AMQP_URL, else BRIDGEBACK_AMQP_URL).", valueName: "url"))
    var amqpURL: String?

    @Option(
        help: ArgumentHelp(
            "stdio transport: file holding the token sent to admission and the coordinator (default: BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE).",
            valueName: "path"))
    var tokenFile: String?

    @Option(
        help: ArgumentHelp(
            "HTTP transport (required there): the principals file admission uses; callers authenticate with their own token. Env: BRIDGEBACK_PRINCIPALS.",
            valueName: "file"))
    var principals: String?

    /// Removed: the HTTP transport used to check one shared token. Kept hidden only to refuse it with a message.
    @Option(help: .hidden)
    var httpTokenFile: String?

    @OptionGroup var http: HTTPLimitOptions

    @Option(help: "HTTP transport: address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "HTTP transport: port (0 picks a free one; the log line 'mcp listening' names it).")
    var port: Int = 8070

    @Option(help: "HTTP transport: end sessions idle this many seconds.")
    var idleTimeout: Double = 3600

    @OptionGroup var logging: LoggingOptions

    /// `--origin`, else BRIDGEBACK_MCP_ORIGIN (an optional option may not carry a default).
    var originSurface: String? { origin ?? ProcessInfo.processInfo.environment["BRIDGEBACK_MCP_ORIGIN"].flatMap { $0.isEmpty ? nil : $0 } }
    /// `--principals`, else BRIDGEBACK_PRINCIPALS.
    var principalsFile: String? {
        principals ?? ProcessInfo.processInfo.environment["BRIDGEBACK_PRINCIPALS"].flatMap { $0.isEmpty ? nil : $0 }
    }
    /// `--parent`, else BRIDGEBACK_MCP_PARENT.
    var parentKey: String? { parent ?? ProcessInfo.processInfo.environment["BRIDGEBACK_MCP_PARENT"].flatMap { $0.isEmpty ? nil : $0 } }

    func validate() throws {
        guard ["stdio", "http"].contains(transport) else { throw ValidationError("--transport must be stdio or http, got '\(transport)'") }
        guard let origin = originSurface else {
            throw ValidationError(
                "--origin is required (or BRIDGEBACK_MCP_ORIGIN): the surface id this assistant's requests come from, e.g. cli:alice")
        }
        do { _ = try SurfaceID(validating: origin) } catch { throw ValidationError("--origin: \(error.message)") }
        if let parent = parentKey,
            parent.isEmpty || parent.utf8.count > 200 || parent.contains(where: { $0 == "*" || $0 == "#" || $0.isWhitespace })
        {
            throw ValidationError("--parent must be 1-200 bytes with no spaces, '*' or '#' (it is a routing key and a queue-name suffix)")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        let environment = ProcessInfo.processInfo.environment
        if httpTokenFile != nil || environment["BRIDGEBACK_MCP_HTTP_TOKEN"] != nil || environment["BRIDGEBACK_MCP_HTTP_TOKEN_FILE"] != nil {
            throw ValidationError(
                "--http-token-file, BRIDGEBACK_MCP_HTTP_TOKEN and BRIDGEBACK_MCP_HTTP_TOKEN_FILE were removed: the HTTP transport now authenticates each caller with the principals file admission uses (--principals FILE or BRIDGEBACK_PRINCIPALS; clients send their own bridgeback token). Drop the old setting (docs/assistants.md)"
            )
        }
        try checkSeconds(idleTimeout, "--idle-timeout", atMost: 604_800)
    }

    func run() async throws {
        logging.bootstrap()  // stderr: stdout belongs to the MCP stdio transport
        let logger = Logger(label: "bridgeback.mcp")
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("bridgeback mcp: \(message)\n".utf8))
            return ExitCode(2)
        }
        var token: String?
        var httpAuth: HTTPAuth?
        if transport == "http" {
            // The same authentication as admission: principals from the file, never --insecure-no-auth.
            guard let principalsFile, !principalsFile.isEmpty else {
                throw fail(
                    "the HTTP transport needs a principals file: --principals FILE or BRIDGEBACK_PRINCIPALS (the one admission uses; 'bridgeback principals add' creates one). Callers send their own token; for one local assistant use --transport stdio"
                )
            }
            do {
                httpAuth = try HTTPAuth.configure(
                    principalsFile: principalsFile, insecureNoAuth: false, host: host, server: "bridgeback mcp", logger: logger)
            } catch { throw fail(error.message) }
            if !HTTPAuth.isLoopback(host) && http.tls == nil {
                logger.warning(
                    "mcp serves plain HTTP on a non-loopback address: bearer tokens cross the network in clear text unless a TLS-terminating proxy is in front; or give --tls-certificate and --tls-key",
                    metadata: ["http.host": "\(host)"])
            }
            if ProcessInfo.processInfo.environment["BRIDGEBACK_TOKEN"] != nil || tokenFile != nil {
                logger.notice("the HTTP transport sends each caller's own token; BRIDGEBACK_TOKEN / --token-file are not used")
            }
        } else {
            do { token = try ClientToken.resolve(tokenFile: tokenFile, environment: ProcessInfo.processInfo.environment) } catch {
                throw fail("\(error)")
            }
        }
        let client = FleetClient(admissionURL: admission, coordinatorURL: coordinator.isEmpty ? nil : coordinator, token: token)
        let identity = AssistantIdentity(origin: originSurface!, parent: parentKey)

        var connection: AMQPConnection?
        var inbox: Inbox?
        var consumer: InboxConsumer?
        if let parent {
            let url: String
            do { url = try resolveAMQPURL(amqpURL, component: "watch") } catch {
                throw fail("--parent needs the broker: set BRIDGEBACK_WATCH_AMQP_URL (or BRIDGEBACK_AMQP_URL, or --amqp-url)")
            }
            let configuration: AMQPConfiguration
            do { configuration = try AMQPConfiguration(url: url, connectionName: "bridgeback-mcp-\(parent)") } catch {
                throw fail("\(error)")
            }
            do { connection = try await AMQPConnection.connect(configuration, logger: logger) } catch {
                throw fail("cannot connect to the broker at \(configuration.redactedURL): \(error)")
            }
            inbox = Inbox(parent: parent)
            consumer = InboxConsumer(connection: connection!, inbox: inbox!, logger: logger)
            do { try await consumer!.prepare() } catch {
                await connection!.close()
                throw fail("\(error)")
            }
        }
        let server = BridgebackMCPServer(
            tools: BridgebackTools(client: client, identity: identity, inbox: inbox, consumer: consumer), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let consumer { services.append(.init(service: consumer, serviceName: "InboxConsumer")) }
        if let httpAuth {
            let sessions = MCPHTTPSessions(server: server, loopback: HTTPAuth.isLoopback(host), logger: logger)
            services.append(
                .init(
                    service: MCPHTTPServer.service(
                        sessions: sessions, auth: httpAuth, host: host, port: port, limits: http.limits, idleTimeout: idleTimeout,
                        logger: logger),
                    serviceName: "MCPHTTPServer"))
        } else {
            services.append(
                .init(
                    service: StdioSession(server: server, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup,
                    serviceName: "StdioSession"))
        }
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await connection?.close()
            throw fail("\(error)")
        }
        await connection?.close()
    }
}

/// One MCP session on stdin/stdout; ends when the client closes stdin.
struct StdioSession: Service {
    let server: BridgebackMCPServer
    let logger: Logger

    func run() async throws {
        let session = await server.makeSession(caller: server.tools.caller)
        try await session.start(transport: StdioTransport(logger: logger))
        logger.info("mcp serving on stdio")
        await withGracefulShutdownHandler {
            await session.waitUntilCompleted()
        } onGracefulShutdown: {
            Task { await session.stop() }
        }
        await session.stop()
        logger.info("mcp client closed the session")
    }
}
