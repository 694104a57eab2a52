import BridgebackAMQP
@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Logging
import Metrics
import Synchronization

/// Records confirmed publishes; `failure` decides per message whether the "broker" refuses it.
final class FakePublisher: MessagePublishing {
    private let state = Mutex<[OutboundMessage]>([])
    private let failure: @Sendable (OutboundMessage) -> AMQPError?

    init(failure: @escaping @Sendable (OutboundMessage) -> AMQPError? = { _ in nil }) {
        self.failure = failure
    }

    func publish(_ message: OutboundMessage) async throws {
        if let error = failure(message) { throw error }
        state.withLock { $0.append(message) }
    }

    var messages: [OutboundMessage] { state.withLock { $0 } }

    func messages(exchange: String) -> [OutboundMessage] { messages.filter { $0.exchange == exchange } }
}

/// An HTTP client that answers from a script and records every request.
final class FakeHTTPClient: HTTPClient {
    private let state = Mutex<[HTTPRequest]>([])
    private let respond: @Sendable (HTTPRequest, Int) async -> HTTPResult

    /// `respond` gets the request and how many requests that URL had before (0-based).
    init(respond: @escaping @Sendable (HTTPRequest, Int) async -> HTTPResult = { _, _ in .response(status: 200, headers: [:]) }) {
        self.respond = respond
    }

    func post(_ request: HTTPRequest) async -> HTTPResult {
        let previous = state.withLock { requests in
            defer { requests.append(request) }
            return requests.filter { $0.url == request.url }.count
        }
        return await respond(request, previous)
    }

    var requests: [HTTPRequest] { state.withLock { $0 } }
}

/// Collects receipts sent to parents.
final class FakeReceipts: ReceiptPublishing {
    private let state = Mutex<[(DeliveryReceipt, String)]>([])

    func publish(_ receipt: DeliveryReceipt, parentID: String) async throws {
        state.withLock { $0.append((receipt, parentID)) }
    }

    var receipts: [DeliveryReceipt] { state.withLock { $0.map(\.0) } }
}

/// Collects lines written by the stdout adapter.
final class LineSink: Sendable {
    private let state = Mutex<[String]>([])

    func write(_ bytes: [UInt8]) {
        state.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) }
    }

    var lines: [String] { state.withLock { $0 } }
}

/// An adapter whose send never returns on its own: a crash in the middle of a send.
struct HangingAdapter: DeliveryAdapter {
    func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { nil }

    func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
        try? await Task.sleep(for: .seconds(3600))
        return DeliveryFailure(.unknownOutcome, detail: "cancelled")
    }
}

/// The registry, fakes and coordinator of one test.
struct Harness {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    let registry: SurfaceRegistry
    let ledger: Ledger
    let publisher: FakePublisher
    let http: FakeHTTPClient
    let receipts: FakeReceipts
    let stdout: LineSink
    let coordinator: Coordinator

    init(
        ledger: Ledger? = nil,
        http: FakeHTTPClient = FakeHTTPClient(),
        publisher: FakePublisher = FakePublisher(),
        configuration: CoordinatorConfiguration = Harness.fastConfiguration,
        override: [SurfaceKind: any DeliveryAdapter] = [:],
        extraSurfaces: [Surface] = [],
        environment: [String: String] = [:],
        logger: Logger? = nil,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) throws {
        registry = try Harness.makeRegistry(extra: extraSurfaces)
        self.ledger = try ledger ?? Ledger.inMemory()
        self.publisher = publisher
        self.http = http
        receipts = FakeReceipts()
        let stdout = LineSink()
        self.stdout = stdout
        let secrets = try registry.resolveSecrets(environment: environment)
        let clock = configuration.now
        var byKind: [SurfaceKind: any DeliveryAdapter] = [
            .inbox: BrokerNoticeAdapter(publisher: publisher, route: .inbox),
            .webhook: WebhookAdapter(client: http, secrets: secrets),
            .slack: SlackAdapter(client: http, tokens: secrets, now: clock),
            .telegram: TelegramAdapter(client: http, tokens: secrets, now: clock),
            .discord: DiscordAdapter(client: http, tokens: secrets, now: clock),
            .stdout: StdoutAdapter(sink: { stdout.write($0) }),
            .file: FileAdapter(),
        ]
        byKind.merge(override) { _, new in new }
        var quiet = Logger(label: "test.coordinator")
        quiet.logLevel = .critical
        let logger = logger ?? quiet
        coordinator = Coordinator(
            ledger: self.ledger, registry: registry,
            adapters: AdapterSet(byKind: byKind, fallback: BrokerNoticeAdapter(publisher: publisher, route: .progress)),
            receipts: receipts, configuration: configuration, logger: logger, metricsFactory: metricsFactory)
    }

    static let fastConfiguration = CoordinatorConfiguration(
        lostGrace: 1, sweepInterval: .seconds(3600),
        retryPolicy: RetryPolicy(maxAttempts: 4, baseDelay: 0.01, maxDelay: 0.05, jitter: 0))

    static func makeRegistry(extra: [Surface] = []) throws -> SurfaceRegistry {
        try SurfaceRegistry(
            surfaces: extra + [
                Surface(
                    id: "cli:alice", kind: .inbox, address: "alice", humanName: "Alice's terminal", directAllowed: true,
                    workSurface: "work:alice"),
                Surface(id: "work:alice", kind: .inbox, address: "alice.work", humanName: "Alice's work log"),
                Surface(
                    id: "hooks:a", kind: .webhook, address: "http://127.0.0.1:9/a", humanName: "receiver A", directAllowed: true,
                    signingSecret: .inline(secret)),
                Surface(
                    id: "hooks:b", kind: .webhook, address: "http://127.0.0.1:9/b", humanName: "receiver B", directAllowed: true,
                    signingSecret: .inline(secret)),
                Surface(id: "out:demo", kind: .stdout, humanName: "the demo console", maxLength: 400, directAllowed: true),
            ])
    }

    /// Runs the coordinator's delivery loop around `body`, then stops it (task cancellation).
    func running(_ body: () async throws -> Void) async throws {
        let coordinator = self.coordinator
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.run() }
            defer { group.cancelAll() }
            try await body()
        }
    }
}

func makeContract(
    final: SurfaceID = "cli:alice", mode: DeliveryMode = .parent, deadline: Date = Date().addingTimeInterval(600)
) -> OwnershipContract {
    OwnershipContract(
        jobID: JobID.make(), origin: "cli:alice", workSurface: "work:alice", finalSurface: final, deliveryMode: mode,
        deadline: deadline, policyVersion: "test", summary: "release gate for api 2.3",
        requestExcerpt: "Run the release gate for api 2.3", parentID: "alice", recipe: RecipeInvocation(name: "release-gate"),
        createdAt: Date().addingTimeInterval(-60))
}

func makeCompletion(_ job: JobID, result: String = "All 5 gates passed. Safe to ship.") -> Completion {
    Completion(
        jobID: job, worker: "worker-a/1", startedAt: Date().addingTimeInterval(-30), finishedAt: Date(),
        outcome: .succeeded(result: result))
}

func body(_ message: some WireMessage) throws -> [UInt8] {
    Array(try WireCodec.encode(message))
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(_ seconds: Double = 5, _ condition: () async throws -> Bool) async throws -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

extension Ledger {
    func outcome(_ id: JobID) async throws -> String? { try await job(id)?.finalOutcome }
}

func decodeNotice(_ bytes: [UInt8]) throws -> FinalNotice {
    try WireCodec.decode(FinalNotice.self, from: Data(bytes))
}

/// A logger whose lines (level, message, and the handler's and the event's metadata merged) the
/// test reads back.
final class CapturedLines: Sendable {
    let lines = Mutex<[(level: Logger.Level, message: String, metadata: String)]>([])

    var logger: Logger {
        Logger(label: "test.captured") { _ in Handler(sink: self) }
    }

    func count(_ message: String) -> Int { lines.withLock { $0.filter { $0.message == message }.count } }

    struct Handler: LogHandler {
        let sink: CapturedLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.lines.withLock { $0.append((event.level, "\(event.message)", "\(all)")) }
        }
    }
}
