import ArgumentParser
import BridgebackAMQP
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
            with the token it was started with, so it can do what that token may do and
            nothing more. With --parent it also reads the parent inbox from the broker
            (durable queue bb.watch.<name>.inbox.<parent> as the person's scoped watcher
            bb-watch-<name>, bb.watch.inbox.<parent> as bb-watch): final notices of
            parent-mediated jobs wait there, unacknowledged, until the assistant takes
            them with bridgeback_inbox; new ones are announced as MCP log messages.

            --transport stdio (default): one assistant, on stdin/stdout; logs go to stderr.
            --transport http: streamable HTTP at http://HOST:PORT/mcp; every request needs
            Authorization: Bearer <the --http-token-file token>.

            Environment:
              BRIDGEBACK_ADMISSION_URL     default for --admission
              BRIDGEBACK_COORDINATOR_URL   default for --coordinator
              BRIDGEBACK_MCP_ORIGIN        default for --origin
              BRIDGEBACK_MCP_PARENT        default for --parent
              BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE   token sent to admission/coordinator
              BRIDGEBACK_MCP_HTTP_TOKEN, BRIDGEBACK_MCP_HTTP_TOKEN_FILE   token HTTP clients must send
              BRIDGEBACK_WATCH_AMQP_URL (else BRIDGEBACK_AMQP_URL)   broker, for the inbox
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
            "File holding the token sent to admission and the coordinator (default: BRIDGEBACK_TOKEN, BRIDGEBACK_TOKEN_FILE).",
            valueName: "path"))
    var tokenFile: String?

    @Option(
        help: ArgumentHelp(
            "HTTP transport: file holding the bearer token clients must send (or BRIDGEBACK_MCP_HTTP_TOKEN).", valueName: "path"))
    var httpTokenFile: String?

    @Option(help: "HTTP transport: address to listen on.")
    var host: String = "127.0.0.1"

    @Option(help: "HTTP transport: port (0 picks a free one; the log line 'mcp listening' names it).")
    var port: Int = 8070

    @Option(help: "HTTP transport: end sessions idle this many seconds.")
    var idleTimeout: Double = 3600

    @OptionGroup var logging: LoggingOptions

    /// `--origin`, else BRIDGEBACK_MCP_ORIGIN (an optional option may not carry a default).
    var originSurface: String? { origin ?? ProcessInfo.processInfo.environment["BRIDGEBACK_MCP_ORIGIN"].flatMap { $0.isEmpty ? nil : $0 } }
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
        try checkSeconds(idleTimeout, "--idle-timeout", atMost: 604_800)
    }

    func run() async throws {
        logging.bootstrap()  // stderr: stdout belongs to the MCP stdio transport
        let logger = Logger(label: "bridgeback.mcp")
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("bridgeback mcp: \(message)\n".utf8))
            return ExitCode(2)
        }
        let token: String?
        do { token = try ClientToken.resolve(tokenFile: tokenFile, environment: ProcessInfo.processInfo.environment) } catch {
            throw fail("\(error)")
        }
        var httpToken: String?
        if transport == "http" {
            do {
                httpToken = try ClientToken.resolve(
                    tokenFile: httpTokenFile, environment: ProcessInfo.processInfo.environment,
                    variable: "BRIDGEBACK_MCP_HTTP_TOKEN", fileVariable: "BRIDGEBACK_MCP_HTTP_TOKEN_FILE")
            } catch { throw fail("\(error)") }
            guard let httpToken, httpToken.count >= 16 else {
                throw fail(
                    "the HTTP transport needs a bearer token of at least 16 characters: --http-token-file PATH or BRIDGEBACK_MCP_HTTP_TOKEN"
                )
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
        if transport == "http" {
            let loopback = ["127.0.0.1", "localhost", "::1"].contains(host)
            let sessions = MCPHTTPSessions(server: server, loopback: loopback, logger: logger)
            services.append(
                .init(
                    service: MCPHTTPServer.service(
                        sessions: sessions, token: httpToken!, host: host, port: port, idleTimeout: idleTimeout, logger: logger),
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
        let session = await server.makeSession()
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
