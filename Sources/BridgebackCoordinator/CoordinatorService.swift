public import BridgebackAMQP
public import BridgebackCore
public import Metrics
import Foundation
public import Logging
public import ServiceLifecycle

/// `bridgeback coordinator` as a swift-service-lifecycle `Service`: the three coordinator
/// queues in, the adapters out, the ledger in between.
///
/// Exactly one coordinator delivers from a ledger. With a `LedgerLock`, `run()` first waits for
/// the lock (a standby: it consumes nothing, resumes nothing, sweeps nothing), and only then
/// consumes; the three queues are also single-active-consumer, so the broker hands messages
/// to one consumer only. On graceful shutdown the consumers stop (unacked messages return to
/// the queue), in-flight sends finish, waits end, then the lock is released.
public struct CoordinatorService: Service {
    /// The queues of topology/definitions.json.
    public enum Queues {
        public static let contracts = "bb.coordinator.contracts"
        public static let completions = "bb.coordinator.completions"
        public static let deadJobs = "bb.coordinator.dead-jobs"
    }

    let connection: AMQPConnection
    let registry: SurfaceRegistry
    /// Redacted: a service description (logged by ServiceGroup at debug level) must not show keys.
    let secrets: Redacted<[SurfaceID: [UInt8]]>
    let ledger: Ledger
    let configuration: CoordinatorConfiguration
    let httpClient: any HTTPClient
    let webhookTimeout: Double
    let prefetch: UInt16
    let logger: Logger
    let metricsFactory: any MetricsFactory
    let ledgerLock: LedgerLock?
    let active: ActiveCoordinator?

    /// - Parameters:
    ///   - secrets: webhook keys and chat bot tokens from `registry.resolveSecrets(environment:)`, resolved at start.
    ///   - webhookTimeout: seconds before a webhook or chat API answer counts as `unknown_outcome`.
    ///   - prefetch: unacknowledged messages per queue; each is committed in milliseconds.
    ///   - ledgerLock: held before anything is consumed or delivered; nil only where a single
    ///     coordinator is certain (tests with an in-memory ledger).
    ///   - active: set to the running coordinator while this one holds the ledger (the status
    ///     API's cancel route writes through it); nil when nothing outside needs it.
    public init(
        connection: AMQPConnection,
        registry: SurfaceRegistry,
        secrets: [SurfaceID: [UInt8]],
        ledger: Ledger,
        configuration: CoordinatorConfiguration = CoordinatorConfiguration(),
        httpClient: any HTTPClient,
        webhookTimeout: Double = 10,
        prefetch: UInt16 = 64,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        ledgerLock: LedgerLock? = nil,
        active: ActiveCoordinator? = nil
    ) {
        self.ledgerLock = ledgerLock
        self.active = active
        self.connection = connection
        self.registry = registry
        self.secrets = Redacted(secrets)
        self.ledger = ledger
        self.configuration = configuration
        self.httpClient = httpClient
        self.webhookTimeout = webhookTimeout
        self.prefetch = prefetch
        self.logger = logger
        self.metricsFactory = metricsFactory
    }

    public func run() async throws {
        if let ledgerLock {
            guard try await ledgerLock.acquire(logger: logger) else {
                logger.info("coordinator standby stopped before it became active")
                return
            }
        }
        defer { ledgerLock?.release() }
        let publisher = try await connection.makePublisher()
        let coordinator = Coordinator(
            ledger: ledger, registry: registry,
            adapters: .standard(publisher: publisher, secrets: secrets.value, httpClient: httpClient, webhookTimeout: webhookTimeout),
            receipts: InboxReceiptPublisher(publisher: publisher), cancels: BrokerCancelBroadcaster(publisher: publisher),
            configuration: configuration, logger: logger, metricsFactory: metricsFactory)
        active?.set(coordinator)
        defer { active?.set(nil) }
        // Bounded messages: none is held whole past the limit. A completion is cut (its result
        // keeps a prefix and gets a marker); a contract or dead job over it is refused.
        let limit = configuration.maxMessageBytes
        let cut = BodyLimit.cuttingJSONStrings(limit)
        let contracts = try await connection.consume(queue: Queues.contracts, prefetch: prefetch, bodyLimit: .prefix(limit))
        let completions = try await connection.consume(queue: Queues.completions, prefetch: prefetch, bodyLimit: cut)
        let deadJobs = try await connection.consume(queue: Queues.deadJobs, prefetch: prefetch, bodyLimit: .prefix(limit))
        logger.info("coordinator consuming (holds the ledger; the broker delivers to the single active consumer)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.run() }
            group.addTask {
                try await Self.consumeUnsynced(contracts, coordinator) { delivery in
                    delivery.oversizeBytes.map { .oversized(queue: "contracts", bytes: $0) } ?? .contract(delivery.body)
                }
            }
            group.addTask {
                // Synced at once, alongside the notice it decided (see `handleUnsynced`).
                try await Self.consumeUnsynced(completions, coordinator, syncAtOnce: true) { delivery in
                    if let full = delivery.oversizeBytes {
                        return .cutCompletion(delivery.body, publishedBy: delivery.properties.userID, fullBytes: full)
                    }
                    return .completion(delivery.body, publishedBy: delivery.properties.userID)
                }
            }
            // Gives memory back once the work falls after a backlog (or after much work); once a
            // second it reads two counters, and a trim runs on a dispatch thread (`MemoryReclaim`).
            group.addTask { await MemoryReclaimer(ledger: ledger, logger: logger).run() }
            group.addTask {
                try await Self.consume(deadJobs, coordinator) { delivery in
                    delivery.oversizeBytes.map { .oversized(queue: "dead-jobs", bytes: $0) }
                        ?? .deadLetter(delivery.body, reason: DeadLetterReason.describe(delivery.properties.headers))
                }
            }
            try await group.waitForAll()
        }
        await publisher.close()
    }

    /// Hands each read pass to the coordinator as one group (one ledger transaction) and settles
    /// it once that transaction is durable: rejects one by one, then one `multiple` ack for the
    /// rest. A thrown (ledger) error leaves the pass unacked, ends the service, and the broker
    /// redelivers it to the next active coordinator.
    private static func consume(
        _ consumer: AMQPConsumer, _ coordinator: Coordinator, _ message: @Sendable (AMQPDelivery) -> Coordinator.InboundMessage
    ) async throws {
        do {
            for try await chunk in consumer.chunks.cancelOnGracefulShutdown() {
                let dispositions = try await coordinator.handle(chunk.map(message))
                settle(chunk, dispositions)
            }
        } catch {
            await consumer.cancel()
            throw error
        }
        await consumer.cancel()
    }

    /// Like `consume`, but each pass commits without a sync of its own and is settled, in order,
    /// once a later synced commit covers it (usually the next completion's, a few milliseconds
    /// later; else the ledger's own after `syncDelay`). Meanwhile the next passes are consumed.
    /// Still never acked before durable: a crash or power loss before the sync leaves the pass
    /// unacked, and the broker redelivers it (a contract the ledger already has is a duplicate).
    /// With `syncAtOnce` each pass not yet covered is synced as soon as it is committed (for
    /// completions: the sync then runs alongside the notice their commit decided).
    private static func consumeUnsynced(
        _ consumer: AMQPConsumer, _ coordinator: Coordinator, syncAtOnce: Bool = false,
        _ message: @Sendable (AMQPDelivery) -> Coordinator.InboundMessage
    ) async throws {
        let (committed, input) = AsyncStream.makeStream(of: (chunk: [AMQPDelivery], dispositions: [Disposition], generation: UInt64).self)
        let ledger = coordinator.ledger
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Bounded: at most `prefetch` deliveries are unacked, so at most that many passes wait here.
                group.addTask {
                    for await pass in committed {
                        try await ledger.awaitDurable(pass.generation, now: syncAtOnce)
                        settle(pass.chunk, pass.dispositions)
                    }
                }
                do {
                    for try await chunk in consumer.chunks.cancelOnGracefulShutdown() {
                        let (dispositions, generation) = try await coordinator.handleUnsynced(chunk.map(message))
                        input.yield((chunk, dispositions, generation))
                    }
                } catch {
                    input.finish()
                    throw error
                }
                // Shutdown: what was committed is settled once durable, then the consumer stops.
                input.finish()
                try await group.waitForAll()
            }
        } catch {
            await consumer.cancel()
            throw error
        }
        await consumer.cancel()
    }

    /// Rejections first (each on its own), then one `multiple` ack on the last acked delivery:
    /// the channel's earlier deliveries are all in this pass, so it acks exactly the rest.
    static func settle(_ chunk: [AMQPDelivery], _ dispositions: [Disposition]) {
        var lastAck: AMQPDelivery?
        for (delivery, disposition) in zip(chunk, dispositions) {
            switch disposition {
            case .ack: lastAck = delivery
            case .reject: delivery.reject(requeue: false)
            }
        }
        lastAck?.ackMultiple()
    }
}

extension BodyLimit {
    /// Bodies over `maxBytes` are JSON documents cut while they are read: every string keeps
    /// its first `MessageLimits.keptStringBytes`, the whole at most `MessageLimits.maxReducedBytes`
    /// (else the body is empty). For completions and progress: their fields stay readable.
    public static func cuttingJSONStrings(_ maxBytes: Int) -> BodyLimit {
        BodyLimit(maxBytes: maxBytes) {
            CuttingReducer(JSONStringCutter(keepStringBytes: MessageLimits.keptStringBytes, maxOutputBytes: MessageLimits.maxReducedBytes))
        }
    }
}

/// `JSONStringCutter` as the AMQP layer's reducer for over-limit messages.
struct CuttingReducer: OversizeBodyReducer {
    var cutter: JSONStringCutter
    init(_ cutter: JSONStringCutter) { self.cutter = cutter }
    mutating func consume(_ fragment: UnsafeRawBufferPointer) { cutter.consume(fragment) }
    mutating func finish() -> [UInt8] { cutter.finish() }
}

extension AdapterSet {
    /// The production adapters: inbox and fallback over the broker, webhook and the chat APIs
    /// over HTTP (`webhookTimeout` bounds every HTTP send), file, stdout.
    /// `secrets`: webhook keys and chat bot tokens, from `SurfaceRegistry.resolveSecrets`.
    public static func standard(
        publisher: any MessagePublishing, secrets: [SurfaceID: [UInt8]], httpClient: any HTTPClient, webhookTimeout: Double = 10
    ) -> AdapterSet {
        AdapterSet(
            byKind: [
                .inbox: BrokerNoticeAdapter(publisher: publisher, route: .inbox),
                .webhook: WebhookAdapter(client: httpClient, secrets: secrets, timeout: webhookTimeout),
                .file: FileAdapter(),
                .stdout: StdoutAdapter(),
                .slack: SlackAdapter(client: httpClient, tokens: secrets, timeout: webhookTimeout),
                .telegram: TelegramAdapter(client: httpClient, tokens: secrets, timeout: webhookTimeout),
                .discord: DiscordAdapter(client: httpClient, tokens: secrets, timeout: webhookTimeout),
            ],
            fallback: BrokerNoticeAdapter(publisher: publisher, route: .progress))
    }
}

/// Words for why a job message was dead-lettered, from its `x-death` header.
enum DeadLetterReason {
    static func describe(_ headers: FieldTable) -> String {
        guard case .array(let deaths)? = headers["x-death"], case .table(let first)? = deaths.first else {
            return "dead-lettered by the broker"
        }
        let reason = first["reason"]?.stringValue ?? "unknown reason"
        let queue = first["queue"]?.stringValue ?? "its queue"
        let count = first["count"]?.intValue.map { " after \($0) time(s)" } ?? ""
        switch reason {
        case "delivery_limit": return "delivery limit reached on \(queue)\(count)"
        default: return "\(reason) on \(queue)\(count)"
        }
    }
}
