import ArgumentParser
import BridgebackAMQP
import BridgebackClient
import BridgebackCoordinator
import BridgebackCore
import Foundation
import Logging
import ServiceLifecycle

/// `bridgeback watch <surface>`: follow a work surface's progress live.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow the progress of a work surface live, one line per event.",
        discussion: """
            Declares a private queue bb.watch.<random> (exclusive, auto-delete: it
            goes away with this process), binds it to the topic exchange bb.progress
            with the work surface id as routing key ('#' follows every surface), and
            prints one line per progress event: time, surface, job, phase, percent
            and message. Fallback notices the coordinator posts to a work surface
            are shown too. With --inbox <parent> it also binds bb.inbox and shows
            final notices and receipts for that parent as they land.
            Stops on Ctrl-C (SIGINT) or SIGTERM.

            Job summaries come from the coordinator's status API when it answers
            (--coordinator); otherwise jobs are shown by id.

            Environment:
              BRIDGEBACK_WATCH_AMQP_URL    broker URL: a person's scoped watcher bb-watch-<name>
                                           (its queues are bb.watch.<name>.*; the broker lets it
                                           bind only that person's surfaces and inbox keys: see
                                           deploy/local/broker.sh watcher), or the operator's
                                           bb-watch, which may bind every key including '#'

              BRIDGEBACK_AMQP_URL          used when the variable above is unset
              BRIDGEBACK_COORDINATOR_URL   default for --coordinator
              BRIDGEBACK_TOKEN(_FILE)      bearer token for the status API
            """
    )

    @Argument(help: ArgumentHelp("Work surface id to follow (e.g. work:alice), or '#' for all.", valueName: "surface"))
    var surface: String

    @Option(
        help: ArgumentHelp("Also show final notices and receipts sent to this parent's inbox (bb.inbox routing key).", valueName: "parent"))
    var inbox: String?

    @Flag(help: "Print each message's raw JSON body, one per line, instead of a line for people.")
    var json: Bool = false

    @Option(help: ArgumentHelp("Exit after this many messages (default: run until interrupted).", valueName: "n"))
    var count: Int?

    @Option(help: ArgumentHelp("Broker URL (default: BRIDGEBACK_WATCH_AMQP_URL, else BRIDGEBACK_AMQP_URL).", valueName: "url"))
    var amqpURL: String?

    @Option(
        help: ArgumentHelp(
            "Coordinator status API, to name jobs by their summary; empty: do not ask. Env: BRIDGEBACK_COORDINATOR_URL.",
            valueName: "url"))
    var coordinator: String =
        ProcessInfo.processInfo.environment["BRIDGEBACK_COORDINATOR_URL"].flatMap { $0.isEmpty ? nil : $0 }
        ?? "http://127.0.0.1:8090"

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var auth: ClientAuthOptions

    func validate() throws {
        if surface != "#" && surface != "*" {
            do { _ = try SurfaceID(validating: surface) } catch { throw ValidationError(error.message + " (or '#' for every surface)") }
        }
        if let inbox, inbox.isEmpty || inbox.utf8.count > 255 { throw ValidationError("--inbox must be a parent id of 1-255 bytes") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        logging.bootstrap()
        var logger = Logger(label: "bridgeback.watch")
        logger[metadataKey: "surface"] = "\(surface)"
        func fail(_ message: String) -> ExitCode {
            FileHandle.standardError.write(Data("bridgeback watch: \(message)\n".utf8))
            return ExitCode(2)
        }
        let url: String
        do {
            url = try resolveAMQPURL(amqpURL, component: "watch")
        } catch {
            throw fail(
                "set BRIDGEBACK_WATCH_AMQP_URL (or BRIDGEBACK_AMQP_URL) to the broker URL; for the local broker: eval \"$(deploy/local/broker.sh env)\""
            )
        }
        let configuration: AMQPConfiguration
        do { configuration = try AMQPConfiguration(url: url, connectionName: "bridgeback-watch") } catch { throw fail("\(error)") }
        let connection: AMQPConnection
        do {
            connection = try await AMQPConnection.connect(configuration, logger: logger)
        } catch {
            throw fail("cannot connect to the broker at \(configuration.redactedURL): \(error)")
        }
        let watcher = Watcher(
            connection: connection, queuePrefix: WatchQueues.prefix(brokerUser: configuration.user),
            surface: surface == "*" ? "#" : surface, inbox: inbox, json: json, limit: count,
            coordinator: coordinator.isEmpty ? nil : coordinator, token: Redacted(try auth.token()), logger: logger,
            output: { line in FileHandle.standardOutput.write(Data((line + "\n").utf8)) },
            note: { text in FileHandle.standardError.write(Data("\(text)\n".utf8)) },  // stderr: --json output stays clean
            // Progress comes from workers: a message over the limit is cut while it is read, never held whole.
            bodyLimit: .cuttingJSONStrings(MessageLimits.maxMessageBytes))
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: watcher, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "Watcher")],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await connection.close()
            throw fail("\(error)")
        }
        await connection.close()
    }
}
