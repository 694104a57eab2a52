import ArgumentParser
import BridgebackAdmission
import BridgebackCore
import BridgebackHTTP
import BridgebackMetrics
import Foundation
import Logging

/// `bridgeback admission`: the HTTP API and the outbox relay in one process.
struct AdmissionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admission",
        abstract: "Run the admission service: decide inline or detach, record contracts, publish jobs.",
        discussion: """
            Serves POST /v1/requests, POST /v1/requests/{id}/outcome, GET /v1/jobs/{id}, GET /v1/jobs?surface=…,
            POST /v1/jobs/{id}/cancel, GET /metrics (Prometheus), GET /openapi.json (docs/openapi/admission.json)
            and GET /health, and relays committed jobs from its SQLite outbox to RabbitMQ (contract first,
            then job, with confirms).
            Stops gracefully on SIGTERM/SIGINT: HTTP first, then the relay.

            Environment:
              BRIDGEBACK_ADMISSION_AMQP_URL  broker URL for the relay (user bb-admission)
              BRIDGEBACK_AMQP_URL            used when the variable above is unset
              BRIDGEBACK_DATA_DIR            default parent of --data-dir
              BRIDGEBACK_PRINCIPALS          default for --principals
            Every route except GET /health needs 'Authorization: Bearer <token>' of a
            principal in --principals (docs/security.md).
            Without a broker URL the service still admits; jobs wait in the outbox.

            See docs/admission-service.md for the API and every knob.
            """
    )

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var http: HTTPLimitOptions

    @OptionGroup var auth: ServerAuthOptions

    @Option(help: "Address to listen on.")
    var host: String = "127.0.0.1"

    @Option(
        help: ArgumentHelp(
            "Where the process's tasks run: event-loops (SwiftNIO's threads, which read and write the HTTP requests: fewer thread hand-offs per request) or pool (Swift's cooperative pool). Env: BRIDGEBACK_TASK_EXECUTOR.",
            valueName: "event-loops|pool"))
    var taskExecutor: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_TASK_EXECUTOR"].flatMap { $0.isEmpty ? nil : $0 } ?? "event-loops"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 8080

    @Option(
        name: .customLong("data-dir"),
        help: ArgumentHelp(
            "Directory for admission.sqlite (default: $BRIDGEBACK_DATA_DIR/admission, else ./bridgeback-data/admission).", valueName: "dir")
    )
    var dataDir: String?

    @Option(help: ArgumentHelp("Surface registry file.", valueName: "file"))
    var surfaces: String = "deploy/local/surfaces.json"

    @Option(help: ArgumentHelp("Worker recipe catalog; recipe names and parameters are checked against it.", valueName: "file"))
    var recipes: String?

    @Option(help: ArgumentHelp("Admission policy file (default: the policy shipped with this build).", valueName: "file"))
    var policy: String?

    @Option(
        name: .customLong("default-recipe"),
        help: ArgumentHelp(
            "Recipe for detached requests that name none (free-text requests); overrides the catalog's default_recipe. Empty: refuse such requests unless the catalog names a default.",
            valueName: "name"))
    var defaultRecipe: String = "noop"

    @Option(
        name: .customLong("default-recipe-text-param"),
        help: ArgumentHelp("Parameter of the default recipe that receives the request text.", valueName: "name"))
    var defaultRecipeTextParam: String?

    @Option(name: .customLong("max-body-bytes"), help: "Largest accepted request body, in bytes.")
    var maxBodyBytes: Int = 64 * 1024

    @Option(name: .customLong("default-deadline"), help: "Deadline in seconds for jobs whose contract gives none.")
    var defaultDeadline: Double = 3600

    @Option(
        name: .customLong("max-deadline"),
        help:
            "Longest deadline_s accepted, in seconds (default: $BRIDGEBACK_MAX_DEADLINE_S, else 604800, 7 days). A job that cannot fit under the broker's consumer_timeout runs as a long job: at most once (docs/delivery.md, Long jobs)."
    )
    var maxDeadline: Double =
        ProcessInfo.processInfo.environment["BRIDGEBACK_MAX_DEADLINE_S"].flatMap(Double.init) ?? JobLimits.maxDeadlineSeconds

    @Option(help: "Worker pool the jobs go to (routing key on bb.jobs).")
    var pool: String = "default"

    @OptionGroup var retention: RetentionOptions

    @Option(
        name: .customLong("coordinator-url"),
        help: ArgumentHelp(
            "The coordinator's status API, which decides cancels (default: $BRIDGEBACK_COORDINATOR_URL); without one, cancel answers 503.",
            valueName: "url"))
    var coordinatorURL: String?

    func validate() throws {
        guard !pool.isEmpty, pool.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw ValidationError("--pool must be a non-empty name of letters, digits, - _ .")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard TaskExecutorChoice(rawValue: taskExecutor) != nil else {
            throw ValidationError("unknown --task-executor '\(taskExecutor)'; use event-loops or pool")
        }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        try checkSeconds(defaultDeadline, "--default-deadline")
        try checkSeconds(maxDeadline, "--max-deadline")
        guard maxDeadline >= defaultDeadline else {
            throw ValidationError("--default-deadline must be positive and not above --max-deadline")
        }
    }

    func run() async throws {
        // First, before any service starts: the HTTP handlers then run on the event loop that read the request.
        let choice = TaskExecutorChoice(rawValue: taskExecutor) ?? .eventLoops
        let onEventLoops = choice.apply()
        logging.bootstrap()
        let environment = ProcessInfo.processInfo.environment
        let logger = Logger(label: "bridgeback.admission")
        if choice == .eventLoops && !onEventLoops {
            // Not fatal (the pool works), but the operator asked for the event loops and should know.
            logger.warning("SwiftNIO could not become the task executor; tasks run on Swift's cooperative pool")
        }
        let dataDirectory =
            dataDir ?? environment["BRIDGEBACK_DATA_DIR"].map { $0 + "/admission" } ?? "bridgeback-data/admission"
        let amqpURL = [environment["BRIDGEBACK_ADMISSION_AMQP_URL"], environment["BRIDGEBACK_AMQP_URL"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        let httpAuth = try auth.configure(host: host, server: "admission", logger: logger)
        var configuration = AdmissionServiceConfiguration(
            host: host, port: port, dataDirectory: URL(fileURLWithPath: dataDirectory),
            surfacesFile: URL(fileURLWithPath: surfaces), recipesFile: recipes.map { URL(fileURLWithPath: $0) },
            policyFile: policy.map { URL(fileURLWithPath: $0) }, amqpURL: amqpURL,
            api: AdmissionConfiguration(
                maxBodyBytes: maxBodyBytes, defaultDeadlineSeconds: defaultDeadline, maxDeadlineSeconds: maxDeadline, pool: pool,
                defaultRecipe: defaultRecipe.isEmpty ? nil : defaultRecipe, defaultRecipeTextParam: defaultRecipeTextParam),
            auth: httpAuth, httpLimits: http.limits,
            coordinatorURL: (coordinatorURL ?? environment["BRIDGEBACK_COORDINATOR_URL"]).flatMap { $0.isEmpty ? nil : $0 })
        configuration.coordinatorCAFile = environment["BRIDGEBACK_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.retention = retention.retention
        let service: AdmissionService
        do {
            service = try AdmissionService(configuration: configuration, logger: logger, exposition: bootstrapMetrics())
        } catch {
            FileHandle.standardError.write(Data("bridgeback admission: \(error)\n".utf8))
            throw ExitCode(2)
        }
        try await service.run()
    }
}
