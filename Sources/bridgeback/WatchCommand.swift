import ArgumentParser
import BridgebackAMQP
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
            coordinator: coordinator.isEmpty ? nil : coordinator, token: Redacted(try auth.token()), logger: logger)
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

/// The watch loop as a `Service`: declare and bind a private queue, print what arrives.
struct Watcher: Service {
    static let progressExchange = "bb.progress"
    static let inboxExchange = "bb.inbox"

    let connection: AMQPConnection
    /// `bb.watch.<name>.` for a scoped watcher user, else `bb.watch.` (`WatchQueues`).
    let queuePrefix: String
    let surface: String
    let inbox: String?
    let json: Bool
    let limit: Int?
    let coordinator: String?
    /// Bearer token for the coordinator's status API (job summaries).
    let token: Redacted<String?>
    let logger: Logger

    func run() async throws {
        // Client-named so the AMQP layer re-declares it (and its bindings) after a reconnect;
        // exclusive + auto-delete so it disappears with this connection.
        let queue = queuePrefix + "\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased())"
        do {
            try await connection.declare(QueueDeclaration(name: queue, durable: false, exclusive: true, autoDelete: true))
            try await connection.bind(BindingDeclaration(queue: queue, exchange: Self.progressExchange, routingKey: surface))
            if let inbox {
                try await connection.bind(BindingDeclaration(queue: queue, exchange: Self.inboxExchange, routingKey: inbox))
            }
        } catch let error as AMQPError where error.replyCode == 403 {
            let user = connection.configuration.user
            if let name = WatchQueues.watcherName(brokerUser: user) {
                throw WatchError(
                    "the broker refused (\(error.message)): \(user) is the scoped watcher of '\(name)'; it may bind only the work "
                        + "surfaces and inbox keys its topic permissions name, never '#' or another person's "
                        + "(deploy/local/broker.sh watcher show \(name))")
            }
            throw WatchError(
                "the broker refused the watch queue (\(error.message)); the broker user needs configure/write on \(queuePrefix)* queues "
                    + "and read on bb.progress and bb.inbox (topology/definitions.json: bb-watch, or a scoped bb-watch-<name> "
                    + "made by deploy/local/broker.sh watcher add)")
        }
        // Progress comes from workers: a message over the limit is cut while it is read, never held whole.
        let consumer = try await connection.consume(
            queue: queue, prefetch: 256, exclusive: true, bodyLimit: .cuttingJSONStrings(MessageLimits.maxMessageBytes))
        let target = surface == "#" ? "every work surface" : surface
        let note = "watching \(target)" + (inbox.map { " and the inbox of \($0)" } ?? "") + " (Ctrl-C to stop)"
        logger.info("watch queue bound", metadata: ["queue": "\(queue)", "inbox": "\(inbox ?? "")"])
        FileHandle.standardError.write(Data("\(note)\n".utf8))  // stderr: --json output stays clean

        var formatter = WatchFormatter(coordinator: coordinator, token: token.value)
        var seen = 0
        do {
            for try await delivery in consumer.cancelOnGracefulShutdown() {
                delivery.ack()
                let line: String?
                if json {
                    line = String(decoding: delivery.body, as: UTF8.self)
                } else {
                    line = await formatter.line(for: delivery.body, exchange: delivery.exchange, routingKey: delivery.routingKey)
                        .map { line in
                            guard let full = delivery.oversizeBytes else { return line }
                            return line + " [cut: the message was \(full) bytes, over the \(MessageLimits.maxMessageBytes)-byte limit]"
                        }
                }
                if let line { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
                seen += 1
                if let limit, seen >= limit { break }
            }
        } catch {
            await consumer.cancel()
            throw error
        }
        await consumer.cancel()
    }
}

struct WatchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Lines for people: "09:12:03 · work:alice · "release gate for api 2.3" (release-gate) · running 40% · step 2/5: …".
struct WatchFormatter {
    let client: StatusClient?
    let coordinator: String?
    /// Per job: summary and recipe, once looked up (nil: not known).
    private var names: [JobID: String?] = [:]
    /// Per job: the newest progress sequence shown; older updates are dropped.
    private var sequences: [JobID: Int] = [:]
    private var coordinatorDown = false

    init(coordinator: String?, token: String?) {
        self.coordinator = coordinator
        client = coordinator.map { _ in StatusClient(timeout: 2, token: token) }
    }

    mutating func line(for body: [UInt8], exchange: String, routingKey: String) async -> String? {
        let message: AnyWireMessage
        do {
            message = try WireCodec.decodeAny(from: Data(body))
        } catch {
            return
                "\(Self.clock(Date())) · \(routingKey) · not a Bridgeback message (\(error.message)): \(HumanText.excerpt(String(decoding: body, as: UTF8.self), maxCharacters: 120))"
        }
        switch message {
        case .progress(let event):
            if let last = sequences[event.jobID], event.sequence <= last { return nil }
            sequences[event.jobID] = event.sequence
            var state = event.phase.rawValue
            if let percent = event.percent { state += " \(percent)%" }
            var fields = [Self.clock(event.at), event.workSurface.rawValue, await name(event.jobID), state]
            if !event.message.isEmpty { fields.append(event.message) }
            if let worker = event.worker { fields[fields.count - 1] += " (\(worker))" }
            return fields.joined(separator: " · ")
        case .final(let notice):
            let label = notice.totalParts > 1 ? "part \(notice.part)/\(notice.totalParts) of the " : ""
            let place = exchange == Watcher.inboxExchange ? "in the inbox of \(routingKey)" : "posted to \(routingKey)"
            let text = HumanText.excerpt(notice.text, maxCharacters: 200)
            return [
                Self.clock(notice.createdAt), routingKey, await name(notice.jobID),
                "\(label)final notice (\(notice.kind.rawValue)) \(place)", text,
                "More: bridgeback jobs show \(notice.jobID)",
            ].joined(separator: " · ")
        case .receipt(let receipt):
            var outcome = "part \(receipt.part)/\(receipt.totalParts) to \(receipt.surface): \(receipt.outcome.rawValue)"
            if let failure = receipt.failure { outcome += " (\(failure.kind.humanDescription))" }
            return [Self.clock(receipt.at), routingKey, await name(receipt.jobID), "receipt", outcome].joined(separator: " · ")
        default:
            return "\(Self.clock(Date())) · \(routingKey) · unexpected \(String(describing: message).prefix(40))… message on \(exchange)"
        }
    }

    /// `"release gate for api 2.3" (release-gate)`, else the job id.
    private mutating func name(_ id: JobID) async -> String {
        if let known = names[id] { return known ?? id.description }
        guard let client, let coordinator, !coordinatorDown else { return id.description }
        switch await client.get(coordinator, "/v1/jobs/\(id)/delivery", as: JobDeliveryStatus.self) {
        case .ok(let status):
            let name = status.summary.map { "\"\(HumanText.excerpt($0, maxCharacters: 60))\"" + (status.recipe.map { " (\($0))" } ?? "") }
            names[id] = .some(name)
            return name ?? id.description
        case .status:
            // Not known yet (the contract may still be on its way): ask again next time.
            return id.description
        case .unreachable:
            coordinatorDown = true
            return id.description
        }
    }

    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }
}
