import BridgebackAMQP
import BridgebackCore
import BridgebackWorker
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// An ordered record of everything the fakes saw, shared by deliveries and the publisher.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
    func count(prefix: String) -> Int { all.filter { $0.hasPrefix(prefix) }.count }
}

struct FakeDelivery: JobDelivery {
    let name: String
    let body: [UInt8]
    let attempt: Int
    let log: EventLog

    func ack() { log.append("ack \(name)") }
    func nack(requeue: Bool) { log.append("nack \(name) requeue=\(requeue)") }
    func reject(requeue: Bool) { log.append("reject \(name) requeue=\(requeue)") }
}

struct FakeJobStream: JobStream {
    typealias Element = FakeDelivery
    let stream: AsyncThrowingStream<FakeDelivery, any Error>
    let continuation: AsyncThrowingStream<FakeDelivery, any Error>.Continuation
    let log: EventLog

    func makeAsyncIterator() -> AsyncThrowingStream<FakeDelivery, any Error>.AsyncIterator { stream.makeAsyncIterator() }

    func cancel() async {
        log.append("cancel consumer")
        continuation.finish()
    }
}

/// Suspends callers of `wait()` until `open()`.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    func wait() async {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }
    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// How many more calls should fail.
final class FailureBudget: Sendable {
    private let left: Mutex<Int>
    init(_ count: Int) { left = Mutex(count) }
    /// True (and one fewer left) while failures remain.
    func take() -> Bool {
        left.withLock { left in
            defer { left = max(0, left - 1) }
            return left > 0
        }
    }
}

/// The in-memory transport: push job messages in, read settlements and publishes from the log.
struct FakeTransport: JobSource, WorkerPublishing {
    let log = EventLog()
    let jobs: FakeJobStream
    let store = Store()
    let failCompletions: Bool
    /// The first this-many completion publishes fail as a broker failover would (`publishNacked`).
    let transientCompletionFailures: FailureBudget
    /// Progress publishes go into the log too ("progress <phase> <job>"), in order with settlements.
    let logsProgress: Bool
    /// Every progress publish fails as a lost connection would (`connectionClosed`).
    let failProgress: Bool
    /// The "started" event's publish (its confirm) does not return until this gate opens.
    let holdStarted: Gate?

    init(
        failCompletions: Bool = false, transientCompletionFailures: Int = 0, logsProgress: Bool = false, failProgress: Bool = false,
        holdStarted: Gate? = nil
    ) {
        let (stream, continuation) = AsyncThrowingStream<FakeDelivery, any Error>.makeStream()
        jobs = FakeJobStream(stream: stream, continuation: continuation, log: log)
        self.failCompletions = failCompletions
        self.transientCompletionFailures = FailureBudget(transientCompletionFailures)
        self.logsProgress = logsProgress
        self.failProgress = failProgress
        self.holdStarted = holdStarted
    }

    func open(prefetch: Int) async throws -> FakeJobStream {
        log.append("open prefetch=\(prefetch)")
        return jobs
    }

    func send(_ name: String, body: [UInt8], attempt: Int = 1) {
        jobs.continuation.yield(FakeDelivery(name: name, body: body, attempt: attempt, log: log))
    }

    func send(_ job: JobMessage, name: String? = nil) {
        send(name ?? job.recipe.name, body: Array(try! WireCodec.encode(job)))
    }

    func publish(progress event: ProgressEvent) async throws {
        if failProgress {
            if logsProgress { log.append("progress-failed \(event.phase.rawValue) \(event.jobID)") }
            throw AMQPError(.connectionClosed, "the connection was lost")
        }
        if event.phase == .started, let holdStarted { await holdStarted.wait() }
        store.progress.withLock { $0.append(event) }
        if logsProgress { log.append("progress \(event.phase.rawValue) \(event.jobID)") }
    }

    func publish(completion: Completion) async throws {
        if failCompletions {
            log.append("completion-failed \(completion.jobID)")
            throw TestFailure.publish
        }
        if transientCompletionFailures.take() {
            log.append("completion-nacked \(completion.jobID)")
            throw AMQPError(.publishNacked, "the broker refused responsibility for this message (basic.nack)")
        }
        store.completions.withLock { $0.append(completion) }
        log.append("completion \(completion.jobID)")
    }

    var publishedCompletions: [Completion] { store.completions.withLock { $0 } }
    var publishedProgress: [ProgressEvent] { store.progress.withLock { $0 } }
}

final class Store: Sendable {
    let progress = Mutex<[ProgressEvent]>([])
    let completions = Mutex<[Completion]>([])
}

enum TestFailure: Error { case publish, timeout }

func makeJob(_ recipe: String, _ params: [String: JSONValue] = [:], deadline: TimeInterval = 30) -> JobMessage {
    JobMessage(
        jobID: JobID.make(), recipe: RecipeInvocation(name: recipe, params: params), workSurface: "work:test",
        deadline: Date().addingTimeInterval(deadline), summary: "test \(recipe)", createdAt: Date())
}

/// Polls until `condition` holds (fails the wait after `seconds`).
func eventually(_ seconds: Double = 10, _ condition: @Sendable () -> Bool) async throws {
    let limit = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < limit else { throw TestFailure.timeout }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Runs a worker over the fake transport inside a real ServiceGroup; `body` drives it, then the
/// group is shut down gracefully (as SIGTERM would).
func withWorker(
    _ transport: FakeTransport, runner: RecipeRunner, slots: Int = 2, progressInterval: Duration = .seconds(5),
    grace: Duration = .seconds(5), consumerTimeout: Double = JobLimits.brokerConsumerTimeoutSeconds,
    cancels: (any CancelSource)? = nil, metricsFactory: any MetricsFactory = MetricsSystem.factory,
    _ body: @Sendable (FakeTransport) async throws -> Void,
    afterShutdown: @Sendable (FakeTransport) async throws -> Void = { _ in }
) async throws {
    let logger = Logger(label: "test.worker")
    let service = WorkerService(
        configuration: WorkerConfiguration(
            pool: "test", slots: slots, progressInterval: progressInterval, shutdownGracePeriod: grace, workerName: "test/1",
            consumerTimeout: consumerTimeout),
        source: transport, publisher: transport, runner: runner, logger: logger, metricsFactory: metricsFactory, cancels: cancels)
    let group = ServiceGroup(configuration: .init(services: [service], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await eventually { transport.log.all.contains { $0.hasPrefix("open") } }
        do {
            try await body(transport)
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        try await afterShutdown(transport)
    }
}

/// A custom kind for tests: counts runs, can sleep and spam progress.
struct ScriptedHandler: JobHandler {
    let runs: RunCounter
    func run(_ context: JobContext) async throws -> String {
        runs.add()
        runs.enter()
        defer { runs.leave() }
        let sleepMS = context.parameters["sleep_ms"]?.intValue ?? 0
        let updates = context.parameters["updates"]?.intValue ?? 0
        for index in 0..<updates {
            await context.progress.update("tick \(index)")
        }
        if sleepMS > 0 { try await Task.sleep(for: .milliseconds(sleepMS)) }
        if case .object(let options) = context.options, case .string(let reply)? = options["reply"] {
            return "\(reply) \(context.jobID)"
        }
        return "done"
    }
}

final class RunCounter: Sendable {
    private let value = Mutex((runs: 0, running: 0, peak: 0))
    func add() { value.withLock { $0.runs += 1 } }
    func enter() {
        value.withLock {
            $0.running += 1; $0.peak = max($0.peak, $0.running)
        }
    }
    func leave() { value.withLock { $0.running -= 1 } }
    var count: Int { value.withLock { $0.runs } }
    /// The most runs in progress at once.
    var peak: Int { value.withLock { $0.peak } }
}

/// A catalog with a custom `scripted` kind and a few command recipes.
func testRunner(handler: ScriptedHandler = ScriptedHandler(runs: RunCounter())) throws -> RecipeRunner {
    let json = """
        {
          "allowed_hosts": ["127.0.0.1"],
          "recipes": [
            {"name": "scripted", "kind": "scripted", "options": {"reply": "hello from"},
             "parameters": [{"name": "sleep_ms", "type": "int", "minimum": 0}, {"name": "updates", "type": "int", "minimum": 0}]},
            {"name": "echo", "kind": "command", "argv": ["echo", "{text}"],
             "parameters": [{"name": "text", "type": "string", "required": true, "pattern": "[a-z ]+"}]}
          ]
        }
        """
    let catalog = try RecipeCatalog.parse(Data(json.utf8), customKinds: ["scripted"])
    return RecipeRunner(catalog: catalog, handlers: ["scripted": handler])
}
