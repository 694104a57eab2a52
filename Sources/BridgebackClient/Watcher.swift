public import BridgebackAMQP
public import BridgebackCore
public import Foundation
public import Logging
public import ServiceLifecycle

/// The watch loop as a `Service`: declare and bind a private queue, print what arrives.
public struct Watcher: Service {
    public static let progressExchange = "bb.progress"
    public static let inboxExchange = "bb.inbox"

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
    /// Where each line goes (the CLI: standard output), and the one note on what is watched (standard error).
    let output: @Sendable (String) -> Void
    let note: @Sendable (String) -> Void
    /// How a message over `MessageLimits.maxMessageBytes` is read (the CLI: cut while read, never held whole).
    let bodyLimit: BodyLimit

    /// - Parameters:
    ///   - queuePrefix: `bb.watch.<name>.` for a scoped watcher user, else `bb.watch.` (`WatchQueues`).
    ///   - surface: a work surface id, or `#` for every one.
    ///   - inbox: also bind the parent inbox under this routing key (final notices and receipts).
    ///   - json: each message's raw body instead of a line for people.
    ///   - limit: stop after this many messages.
    ///   - coordinator: the status API base URL, to name jobs by their summary (nil: by id).
    ///   - bodyLimit: how an over-limit message is read (the coordinator's `BodyLimit.cuttingJSONStrings`).
    public init(
        connection: AMQPConnection, queuePrefix: String, surface: String, inbox: String?, json: Bool, limit: Int?, coordinator: String?,
        token: Redacted<String?>, logger: Logger, output: @escaping @Sendable (String) -> Void,
        note: @escaping @Sendable (String) -> Void, bodyLimit: BodyLimit
    ) {
        self.bodyLimit = bodyLimit
        self.connection = connection
        self.queuePrefix = queuePrefix
        self.surface = surface
        self.inbox = inbox
        self.json = json
        self.limit = limit
        self.coordinator = coordinator
        self.token = token
        self.logger = logger
        self.output = output
        self.note = note
    }

    public func run() async throws {
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
            queue: queue, prefetch: 256, exclusive: true, bodyLimit: bodyLimit)
        let target = surface == "#" ? "every work surface" : surface
        logger.info("watch queue bound", metadata: ["queue": "\(queue)", "inbox": "\(inbox ?? "")"])
        note("watching \(target)" + (inbox.map { " and the inbox of \($0)" } ?? "") + " (Ctrl-C to stop)")

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
                if let line { output(line) }
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

/// Why the watch could not start (the broker refused the queue or a binding), and what to do.
public struct WatchError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Lines for people: "09:12:03 · work:alice · "release gate for api 2.3" (release-gate) · running 40% · step 2/5: …".
public struct WatchFormatter {
    let client: APIClient?
    let coordinator: String?
    /// Per job: summary and recipe, once looked up (nil: not known).
    private var names: [JobID: String?] = [:]
    /// Per job: the newest progress sequence shown; older updates are dropped.
    private var sequences: [JobID: Int] = [:]
    private var coordinatorDown = false

    public init(coordinator: String?, token: String?) {
        self.coordinator = coordinator
        client = coordinator.map { _ in APIClient(timeout: 2, token: token) }
    }

    /// The line for one message from `exchange` under `routingKey`; nil for a progress update
    /// older than one already shown.
    public mutating func line(for body: [UInt8], exchange: String, routingKey: String) async -> String? {
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

    public static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }
}
