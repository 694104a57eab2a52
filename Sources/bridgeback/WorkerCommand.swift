import ArgumentParser
import BridgebackAMQP
import BridgebackCore
import BridgebackMetrics
import BridgebackWorker
import Foundation
import Logging
import ServiceLifecycle

/// `bridgeback worker`: a stateless worker that runs named recipes for one pool.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run a stateless worker: take jobs from bb.jobs.<pool>, run their recipes, report progress and completions.",
        discussion: """
            Consumes bb.jobs.<pool> with manual acks and prefetch = --slots, runs up to
            --slots jobs at once from the recipe catalog (--recipes), publishes sparse
            progress to bb.progress (routing key = the job's work surface) and each
            completion to bb.completions with a publisher confirm, then acks the job.
            SIGTERM/SIGINT: stop taking jobs, let running ones finish for --grace seconds,
            requeue the rest. Run as many workers as you like, on any host that reaches
            the broker.

            Long jobs: a job whose deadline cannot fit under the broker's consumer_timeout
            (--consumer-timeout-ms, less 300 s) is acknowledged as it starts and runs at
            most once: a worker lost mid-run leaves it to end `lost`; one stopped by
            SIGTERM past --grace ends it failed (docs/delivery.md, Long jobs).

            Environment:
              BRIDGEBACK_WORKER_AMQP_URL  broker URL (user bb-worker)
              BRIDGEBACK_AMQP_URL         used when the variable above is unset
              BRIDGEBACK_WORKER_POOL      default for --pool
              BRIDGEBACK_WORKER_SLOTS     default for --slots
              BRIDGEBACK_RECIPES          default for --recipes
              BRIDGEBACK_CONSUMER_TIMEOUT_MS  default for --consumer-timeout-ms (deploy/limits.env)
              BRIDGEBACK_WORKER_METRICS_PORT  default for --metrics-port
              BRIDGEBACK_METRICS=off      no metrics backend (for benchmarks)

            See docs/worker.md for the recipe file format.
            """
    )

    @OptionGroup var logging: LoggingOptions

    @Option(help: ArgumentHelp("Worker pool; jobs come from bb.jobs.<pool>.", valueName: "name"))
    var pool: String = ProcessInfo.processInfo.environment["BRIDGEBACK_WORKER_POOL"] ?? "default"

    @Option(help: "Jobs run at once (also the broker prefetch).")
    var slots: Int = Int(ProcessInfo.processInfo.environment["BRIDGEBACK_WORKER_SLOTS"] ?? "") ?? 4

    @Option(help: ArgumentHelp("Recipe catalog file.", valueName: "file"))
    var recipes: String = ProcessInfo.processInfo.environment["BRIDGEBACK_RECIPES"] ?? "deploy/local/recipes.json"

    @Option(
        name: .customLong("progress-interval"),
        help: "Minimum seconds between routine progress updates of one job (state changes always go out).")
    var progressInterval: Double = 5

    @Option(help: "Seconds running jobs may take to finish after SIGTERM before they are requeued.")
    var grace: Double = 30

    @Option(help: ArgumentHelp("Worker name in progress and completions (default: host/pid).", valueName: "name"))
    var name: String?

    @Option(
        name: .customLong("consumer-timeout-ms"),
        help: ArgumentHelp(
            "The broker's consumer_timeout in milliseconds (default: $BRIDGEBACK_CONSUMER_TIMEOUT_MS from deploy/limits.env, else 7200000). Jobs that cannot be held under it are acknowledged as they start (run at most once).",
            valueName: "ms"))
    var consumerTimeoutMS: String = ProcessInfo.processInfo.environment["BRIDGEBACK_CONSUMER_TIMEOUT_MS"] ?? ""

    /// `--consumer-timeout-ms` in seconds (validated).
    var consumerTimeout: Double {
        JobLimits.consumerTimeoutSeconds(environment: consumerTimeoutMS) ?? JobLimits.brokerConsumerTimeoutSeconds
    }

    @Option(
        name: .customLong("metrics-port"),
        help: ArgumentHelp(
            "Serve GET /metrics (Prometheus) on this port (0 picks one; the log line 'metrics listening' gives it). Off unless given. Env: BRIDGEBACK_WORKER_METRICS_PORT.",
            valueName: "port"))
    var metricsPortFlag: Int?

    /// `--metrics-port`, else BRIDGEBACK_WORKER_METRICS_PORT (an optional option may not carry a default).
    var metricsPort: Int? { metricsPortFlag ?? ProcessInfo.processInfo.environment["BRIDGEBACK_WORKER_METRICS_PORT"].flatMap { Int($0) } }

    @Option(name: .customLong("metrics-host"), help: ArgumentHelp("Address of the metrics port (loopback only).", valueName: "address"))
    var metricsHost: String = "127.0.0.1"

    func validate() throws {
        guard (1...1000).contains(slots) else { throw ValidationError("--slots must be 1…1000, got \(slots)") }
        guard !pool.isEmpty, pool.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw ValidationError("--pool must be a non-empty name of letters, digits, - _ .")
        }
        try checkSeconds(progressInterval, "--progress-interval", allowZero: true, atMost: 86_400)
        try checkSeconds(grace, "--grace", allowZero: true, atMost: 86_400)
        guard JobLimits.consumerTimeoutSeconds(environment: consumerTimeoutMS) != nil else {
            throw ValidationError(
                "--consumer-timeout-ms (or BRIDGEBACK_CONSUMER_TIMEOUT_MS) must be a positive number of milliseconds up to 10^12, got '\(consumerTimeoutMS)'"
            )
        }
        if let metricsPort, !(0...65535).contains(metricsPort) { throw ValidationError("--metrics-port must be 0-65535") }
        // The worker's metrics port has no authentication: it must not be reachable from other hosts.
        guard ["127.0.0.1", "::1", "localhost"].contains(metricsHost) else {
            throw ValidationError(
                "--metrics-host must be a loopback address (127.0.0.1, ::1 or localhost): the worker's metrics port has no authentication; scrape it through a local agent or an SSH tunnel"
            )
        }
    }

    func run() async throws {
        logging.bootstrap()
        let exposition = bootstrapMetrics()
        let logger = Logger(label: "bridgeback.worker")
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("bridgeback worker: \(message)\n".utf8))
            return ExitCode(2)
        }
        let catalog: RecipeCatalog
        do {
            catalog = try RecipeCatalog.load(contentsOf: URL(fileURLWithPath: recipes))
        } catch {
            throw fail(error.message)
        }
        let amqpURL: String
        do {
            amqpURL = try resolveAMQPURL(nil, component: "worker")
        } catch {
            throw fail("set BRIDGEBACK_WORKER_AMQP_URL (or BRIDGEBACK_AMQP_URL) to the broker URL")
        }
        let configuration = WorkerConfiguration(
            pool: pool, slots: slots, progressInterval: .milliseconds(Int64(progressInterval * 1000)),
            shutdownGracePeriod: .milliseconds(Int64(grace * 1000)), workerName: name ?? WorkerConfiguration.defaultWorkerName,
            consumerTimeout: consumerTimeout)
        let connection: AMQPConnection
        let publisher: AMQPWorkerPublisher
        do {
            connection = try await AMQPConnection.connect(
                AMQPConfiguration(url: amqpURL, connectionName: "bridgeback-worker \(configuration.workerName)"), logger: logger)
            publisher = try await AMQPWorkerPublisher(connection: connection)
        } catch {
            throw fail("cannot connect to the broker: \(error)")
        }
        logger.info(
            "recipes loaded", metadata: ["file": "\(recipes)", "recipes": "\(catalog.recipes.keys.sorted().joined(separator: ","))"])
        let service = WorkerService(
            configuration: configuration, source: AMQPJobSource(connection: connection, pool: pool), publisher: publisher,
            runner: RecipeRunner(catalog: catalog), logger: logger, cancels: AMQPCancelSource(connection: connection))
        var services: [any Service] = [service]
        if let metricsPort {
            // After the worker in the list, so a graceful shutdown stops the metrics port first.
            services.append(MetricsHTTP.server(exposition: exposition, host: metricsHost, port: metricsPort, logger: logger))
        }
        try await runUntilSignalled(services, closing: connection, logger: logger)
    }
}
