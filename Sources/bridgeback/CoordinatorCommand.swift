import ArgumentParser
import BridgebackAMQP
import BridgebackCoordinator
import BridgebackCore
import BridgebackMetrics
import BridgebackTopology
import Foundation
import Logging
import ServiceLifecycle

/// `bridgeback coordinator`: the single owner of final delivery.
struct CoordinatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Run the delivery coordinator: contracts and completions in, exactly one final notice per job out.",
        discussion: """
            Consumes bb.coordinator.contracts, bb.coordinator.completions and
            bb.coordinator.dead-jobs, keeps a SQLite delivery ledger, and delivers each job's final
            notice to the surface its contract names (inbox, webhook, file, stdout).
            Stops gracefully on SIGTERM/SIGINT: consumers first, in-flight sends finish.

            One coordinator delivers per data directory: it holds an exclusive lock on
            <data-dir>/coordinator.lock. A second one on the same data directory is a
            standby: it logs so, consumes and delivers nothing, and takes over when the
            lock is freed (the holder stopped or died). The queues are single active
            consumer as well.

            A read-only status API on --http-host:--http-port (default 127.0.0.1:8090)
            answers GET /v1/jobs/{id}/delivery, GET /v1/jobs/{id}/result,
            GET /v1/deliveries?surface=…&limit=N, GET /metrics (Prometheus) and GET /health from the ledger,
            and POST /v1/jobs/{id}/dry-run (what delivery would send, checked by
            each adapter's dry-run, nothing sent), and GET /openapi.json
            (docs/openapi/status.json); `bridgeback jobs` and
            `bridgeback deliver --dry-run` read it. The live dashboard is at
            /dashboard on the same port (sign in with a token; --no-dashboard
            turns it off; queue and worker figures need BRIDGEBACK_MANAGEMENT_URL,
            _USER, _PASSWORD as for `bridgeback status`). --no-http turns it all off. Every
            route except GET /health needs a bearer token of a principal in
            --principals (docs/security.md).

            Environment:
              BRIDGEBACK_COORDINATOR_AMQP_URL  broker URL (user bb-coordinator)
              BRIDGEBACK_AMQP_URL              used when the variable above is unset
              BRIDGEBACK_DATA_DIR              default parent of --data-dir
              BRIDGEBACK_PRINCIPALS            default for --principals
              BRIDGEBACK_MANAGEMENT_URL, BRIDGEBACK_MANAGEMENT_USER, BRIDGEBACK_MANAGEMENT_PASSWORD
                                               the dashboard's queue and worker figures
              BRIDGEBACK_DASHBOARD_AMQP_URL    a watch user (bb-watch) whose progress events the
                                               dashboard's timelines show (unset: none)
              webhook secrets named by {"env": …} in the surface registry

            See docs/delivery.md for the ledger, the states and every knob.
            """
    )

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var http: HTTPLimitOptions

    @OptionGroup var auth: ServerAuthOptions

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Directory for coordinator.sqlite (default: $BRIDGEBACK_DATA_DIR/coordinator, else ./bridgeback-data/coordinator).",
            valueName: "dir"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Surface registry file.", valueName: "file"))
    var surfaces: String = "deploy/local/surfaces.json"

    @Option(name: .customLong("lost-grace"), help: "Seconds past a job's deadline before it is declared lost.")
    var lostGrace: Double = 300

    @Option(name: .customLong("sweep-interval"), help: "Seconds between lost-job sweeps.")
    var sweepInterval: Double = 15

    @OptionGroup var retention: RetentionOptions

    @Option(
        name: .customLong("trusted-completion-user"),
        help: ArgumentHelp(
            "Broker user allowed to publish completions, by the broker-validated user_id (repeatable; default bb-worker).",
            valueName: "user"))
    var trustedCompletionUsers: [String] = []

    @Flag(
        name: .customLong("any-completion-user"),
        help: "Accept completions whatever broker user published them (the per-job capability is still checked).")
    var anyCompletionUser: Bool = false

    @Option(help: "Unacknowledged messages per coordinator queue.")
    var prefetch: UInt16 = 64

    @Option(name: .customLong("http-host"), help: ArgumentHelp("Address the status API listens on.", valueName: "address"))
    var httpHost: String = "127.0.0.1"

    @Option(
        name: .customLong("http-port"),
        help: ArgumentHelp(
            "Port of the status API (0 picks a free one; the log line 'coordinator status listening' gives it).", valueName: "port"))
    var httpPort: Int = 8090

    @Flag(name: .customLong("no-http"), help: "Do not serve the status API.")
    var noHTTP: Bool = false

    @Flag(name: .customLong("no-dashboard"), help: "Do not serve the live dashboard pages under /dashboard on the status port.")
    var noDashboard: Bool = false

    @Flag(
        name: .customLong("dashboard-secure-cookie"),
        help: "Mark the dashboard's session cookie Secure behind a TLS proxy (with --tls-certificate it always is).")
    var dashboardSecureCookie: Bool = false

    @Option(name: .customLong("webhook-timeout"), help: "Seconds to wait for a webhook receiver's answer (after that: outcome unknown).")
    var webhookTimeout: Double = 10

    func validate() throws {
        if anyCompletionUser && !trustedCompletionUsers.isEmpty {
            throw ValidationError("--any-completion-user and --trusted-completion-user contradict each other; drop one")
        }
        try checkSeconds(lostGrace, "--lost-grace", allowZero: true)
        try checkSeconds(sweepInterval, "--sweep-interval", atMost: 86_400)
        try checkSeconds(webhookTimeout, "--webhook-timeout", atMost: 3_600)
        guard prefetch > 0 else { throw ValidationError("--prefetch must be at least 1") }
        guard (0...65535).contains(httpPort) else { throw ValidationError("--http-port must be 0-65535") }
    }

    func run() async throws {
        logging.bootstrap()
        let exposition = bootstrapMetrics()
        let environment = ProcessInfo.processInfo.environment
        let logger = Logger(label: "bridgeback.coordinator")
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("bridgeback coordinator: \(message)\n".utf8))
            return ExitCode(2)
        }
        let dataDirectory =
            dataDir ?? environment["BRIDGEBACK_DATA_DIR"].map { $0 + "/coordinator" } ?? "bridgeback-data/coordinator"
        let completionUsers: Set<String> =
            anyCompletionUser ? [] : trustedCompletionUsers.isEmpty ? ["bb-worker"] : Set(trustedCompletionUsers)
        if anyCompletionUser {
            logger.warning("--any-completion-user: completions from any broker user are considered (the per-job capability still decides)")
        }
        let httpAuth = noHTTP ? nil : try auth.configure(host: httpHost, server: "coordinator", logger: logger)
        guard
            let amqpURL = [environment["BRIDGEBACK_COORDINATOR_AMQP_URL"], environment["BRIDGEBACK_AMQP_URL"]]
                .compactMap({ $0 }).first(where: { !$0.isEmpty })
        else {
            throw fail("set BRIDGEBACK_COORDINATOR_AMQP_URL (or BRIDGEBACK_AMQP_URL) to the broker URL")
        }
        let registry: SurfaceRegistry
        let secrets: [SurfaceID: [UInt8]]
        let ledger: Ledger
        do {
            registry = try SurfaceRegistry.load(contentsOf: URL(fileURLWithPath: surfaces))
            secrets = try registry.resolveSecrets(environment: environment)
        } catch {
            let details = error.problems.map { "\n  - \($0.message)" }.joined()
            throw fail("surface registry \(surfaces): \(error.message)\(details)")
        }
        do {
            try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            ledger = try Ledger(path: dataDirectory + "/coordinator.sqlite")
        } catch {
            throw fail("\(error)")
        }
        let connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(
                AMQPConfiguration(url: amqpURL, connectionName: "bridgeback-coordinator"), logger: logger)
        } catch {
            throw fail("cannot connect to the broker: \(error)")
        }
        // One pooled AsyncHTTPClient for every webhook and chat send: no redirects, no retries of its own.
        let httpClient = WireHTTPClient(timeouts: .init(connect: min(5, webhookTimeout), read: webhookTimeout))
        let active = ActiveCoordinator()
        let service = CoordinatorService(
            connection: connection, registry: registry, secrets: secrets, ledger: ledger,
            configuration: CoordinatorConfiguration(
                lostGrace: lostGrace, sweepInterval: .milliseconds(Int64(sweepInterval * 1000)),
                trustedCompletionUsers: completionUsers,
                retention: retention.retention),
            httpClient: httpClient, webhookTimeout: webhookTimeout, prefetch: prefetch, logger: logger,
            ledgerLock: LedgerLock(path: dataDirectory + "/coordinator.lock"), active: active)
        // Graceful shutdown runs in reverse order: HTTP API, then the coordinator (in-flight sends
        // finish), then the HTTP client's pool.
        var services: [any Service] = [httpClient, service]
        if let httpAuth {
            // After the coordinator in the list, so a graceful shutdown stops HTTP first.
            let api = CoordinatorStatusAPI(
                ledger: ledger, registry: registry, brokerConnected: { connection.isConnected },
                adapters: .dryRunOnly(secrets: secrets), active: active)
            // Progress steps in the dashboard's timelines: a tap on bb.progress as a watch user, if given.
            var progress: ProgressLog?
            if !noDashboard, let tapURL = environment["BRIDGEBACK_DASHBOARD_AMQP_URL"], !tapURL.isEmpty {
                do {
                    let tapConnection = try await AMQPConnection.connect(
                        AMQPConfiguration(url: tapURL, connectionName: "bridgeback-coordinator-dashboard"), logger: logger)
                    let log = ProgressLog()
                    progress = log
                    services.append(ProgressTap(connection: tapConnection, log: log, logger: logger))
                } catch {
                    logger.error(
                        "BRIDGEBACK_DASHBOARD_AMQP_URL: cannot connect; the dashboard shows no progress steps",
                        metadata: ["error": "\(error)"])
                }
            }
            let dashboard =
                noDashboard
                ? nil
                : Dashboard(
                    api: api, auth: httpAuth, management: ManagementAPI.fromEnvironment(environment), progress: progress,
                    secureCookies: dashboardSecureCookie || http.tlsCertificate != nil, logger: logger)
            services.append(
                CoordinatorHTTP.application(
                    api: api, auth: httpAuth, host: httpHost, port: httpPort, limits: http.limits, logger: logger, exposition: exposition,
                    dashboard: dashboard))
        }
        try await runUntilSignalled(services, closing: connection, logger: logger)
    }
}
