import ArgumentParser
import BridgebackAMQP
import BridgebackCore
import BridgebackLogging
import BridgebackMetrics
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `bridgeback`: one executable, a subcommand per process or tool.
@main
struct Bridgeback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridgeback",
        abstract: "Hand long work to the background and get the answer back to the right place, exactly once.",
        discussion: """
            Processes: admission (HTTP API), worker (runs recipes), coordinator (final delivery).
            People: submit (send a request), jobs (what was handed off and where each answer went), watch (live progress), deliver --dry-run (what a job's notice would be), audit (what should have detached, and proposed policy changes).
            Tools: topology (apply/check the broker), classify (admission policy), receiver (a local webhook receiver), bench, roundtrip.
            Configuration comes from flags and BRIDGEBACK_* environment variables; see README.md.
            """,
        subcommands: allSubcommands
    )
}

/// Options every subcommand shares: how to log.
struct LoggingOptions: ParsableArguments {
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical. Env: BRIDGEBACK_LOG_LEVEL.")
    var logLevel: String = ProcessInfo.processInfo.environment["BRIDGEBACK_LOG_LEVEL"] ?? "info"

    @Option(help: "Log format: text or json (one JSON object per line). Env: BRIDGEBACK_LOG_FORMAT.")
    var logFormat: String = ProcessInfo.processInfo.environment["BRIDGEBACK_LOG_FORMAT"] ?? "text"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)'; use trace, debug, info, notice, warning, error or critical")
        }
        guard ["text", "json"].contains(logFormat) else {
            throw ValidationError("unknown log format '\(logFormat)'; use text or json")
        }
    }

    /// Bootstraps swift-log once for the process (only the executable does this).
    func bootstrap() {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingBootstrap.once(level: level, json: json)
    }
}

/// `BRIDGEBACK_METRICS=off` runs a process without a metrics backend (the benchmark's
/// "metrics off" leg); anything else bootstraps swift-metrics with Prometheus, once.
func bootstrapMetrics() -> MetricsExposition {
    let setting = ProcessInfo.processInfo.environment["BRIDGEBACK_METRICS"]?.lowercased() ?? "on"
    return MetricsBootstrap.prometheus(enabled: !["off", "0", "false", "no"].contains(setting))
}

enum LoggingBootstrap {
    private static let done = Mutex(false)

    static func once(level: Logger.Level, json: Bool) {
        let first = done.withLock { value -> Bool in
            defer { value = true }
            return !value
        }
        guard first else { return }
        // Each command calls this first thing in `run()`, before it starts any other thread.
        ProcessTimeZone.pin()
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : TextLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on stderr: what log shippers expect from a server process.
struct JSONLogHandler: LogHandler {
    /// A value type, so one shared style costs nothing per line (a formatter per line did).
    private static let timestampStyle = Date.ISO8601FormatStyle()
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: String] = [
            "ts": Self.timestampStyle.format(Date()),
            "level": event.level.rawValue,
            "logger": label,
            "msg": "\(event.message)",
        ]
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for (key, value) in merged { object[key] = "\(value)" }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

/// Where a command finds the broker: a flag, else the component's variable, else BRIDGEBACK_AMQP_URL.
func resolveAMQPURL(_ flag: String?, component: String? = nil) throws -> String {
    let env = ProcessInfo.processInfo.environment
    if let flag, !flag.isEmpty { return flag }
    if let component, let value = env["BRIDGEBACK_\(component.uppercased())_AMQP_URL"], !value.isEmpty { return value }
    if let value = env["BRIDGEBACK_AMQP_URL"], !value.isEmpty { return value }
    throw ValidationError(
        "no broker URL: pass --amqp-url or set BRIDGEBACK_AMQP_URL (for the local broker: eval \"$(deploy/local/broker.sh env)\")")
}

/// Runs a process's services until SIGTERM/SIGINT has shut them down gracefully, then closes
/// its broker connection, also when a service failed.
func runUntilSignalled(_ services: [any Service], closing connection: AMQPConnection, logger: Logger) async throws {
    let group = ServiceGroup(
        configuration: .init(services: services.map(namedService), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    do {
        try await group.run()
    } catch {
        await connection.close()
        throw error
    }
    await connection.close()
}

/// A service configuration named by the service's type. By default ServiceGroup names a
/// service `"\(service)"`, which for a struct without a description is a dump of every field
/// (the worker's environment with its broker URLs, the coordinator's webhook keys) and is
/// logged at debug and trace level; a type name carries no secret.
func namedService(_ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
    let name = String(describing: type(of: service))
    return .init(service: service, serviceName: String(name.prefix { $0 != "<" }))
}
