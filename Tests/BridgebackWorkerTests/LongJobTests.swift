import BridgebackCore
import Foundation
import Synchronization
import Testing

@testable import BridgebackWorker

/// Logs "run <job>" into the transport's log when it starts, then sleeps `sleep_ms`.
struct LoggingHandler: JobHandler {
    let log: EventLog
    func run(_ context: JobContext) async throws -> String {
        log.append("run \(context.jobID)")
        let sleepMS = context.parameters["sleep_ms"]?.intValue ?? 0
        if sleepMS > 0 { try await Task.sleep(for: .milliseconds(sleepMS)) }
        return "ran \(context.jobID)"
    }
}

/// Cancels pushed in by the test.
struct FakeCancels: CancelSource {
    let feed: AsyncThrowingStream<CancelNotice, any Error>
    let sink: AsyncThrowingStream<CancelNotice, any Error>.Continuation

    init() { (feed, sink) = AsyncThrowingStream.makeStream() }

    func open() async throws -> AsyncThrowingStream<CancelNotice, any Error> { feed }
}

/// The worker's ack timing (docs/delivery.md, "Long jobs") over the in-memory transport: a job
/// that can be held under the broker's consumer_timeout is acked after its completion; a long one
/// is acked before it runs, never given back, and ends failed when the worker stops it.
@Suite("Worker: long jobs")
struct LongJobTests {
    /// A 60 s broker timeout: with the 300 s margin every job is long; `timeout: 400` holds jobs up to 100 s.
    static func withWorker(
        _ transport: FakeTransport, consumerTimeout: TimeInterval, grace: Duration = .seconds(5), cancels: FakeCancels? = nil,
        _ body: @Sendable (FakeTransport) async throws -> Void, afterShutdown: @Sendable (FakeTransport) async throws -> Void = { _ in }
    ) async throws {
        let catalog = try RecipeCatalog.parse(
            Data(
                """
                {"recipes": [{"name": "logged", "kind": "logged", "parameters": [{"name": "sleep_ms", "type": "int", "minimum": 0}]}]}
                """.utf8), customKinds: ["logged"])
        let runner = RecipeRunner(catalog: catalog, handlers: ["logged": LoggingHandler(log: transport.log)])
        try await BridgebackWorkerTests.withWorker(
            transport, runner: runner, grace: grace, consumerTimeout: consumerTimeout, cancels: cancels, body, afterShutdown: afterShutdown)
    }

    static func index(_ entry: String, in log: [String]) throws -> Int {
        try #require(log.firstIndex(of: entry), "\(entry) not in \(log)")
    }

    @Test("a job that fits under the timeout is acked after its confirmed completion, as before")
    func heldJob() async throws {
        let transport = FakeTransport(logsProgress: true)
        let job = makeJob("logged", ["sleep_ms": 50], deadline: 60)
        try await Self.withWorker(transport, consumerTimeout: 400) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
        }
        let log = transport.log.all
        #expect(try Self.index("run \(job.jobID)", in: log) < Self.index("completion \(job.jobID)", in: log))
        #expect(try Self.index("completion \(job.jobID)", in: log) < Self.index("ack j1", in: log))
        #expect(transport.log.count(prefix: "ack") == 1)
    }

    @Test("a long job is acked as it starts, its start is confirmed before it runs, and its completion follows")
    func longJobIsAckedAtStart() async throws {
        let transport = FakeTransport(logsProgress: true)
        let job = makeJob("logged", ["sleep_ms": 50], deadline: 3600)
        try await Self.withWorker(transport, consumerTimeout: 60) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("completion \(job.jobID)") }
        }
        let log = transport.log.all
        let ack = try Self.index("ack j1", in: log)
        let started = try Self.index("progress started \(job.jobID)", in: log)
        let run = try Self.index("run \(job.jobID)", in: log)
        let completion = try Self.index("completion \(job.jobID)", in: log)
        #expect(ack < started && started < run && run < completion, "\(log)")
        #expect(transport.log.count(prefix: "ack") == 1)
        #expect(!log.contains { $0.hasPrefix("nack") })
        #expect(transport.publishedCompletions.first?.outcome == .succeeded(result: "ran \(job.jobID)"))
    }

    @Test("the same deadline is held or long depending on the broker's timeout")
    func decisionFollowsTheTimeout() async throws {
        let transport = FakeTransport(logsProgress: true)
        let job = makeJob("logged", deadline: 200)
        // 200 s + 300 s margin fits under 600 s: held.
        try await Self.withWorker(transport, consumerTimeout: 600) { t in
            t.send(job, name: "held")
            try await eventually { t.log.all.contains("ack held") }
        }
        let log = transport.log.all
        #expect(try Self.index("completion \(job.jobID)", in: log) < Self.index("ack held", in: log))
        // Under a 400 s timeout the same job is long.
        let long = FakeTransport(logsProgress: true)
        try await Self.withWorker(long, consumerTimeout: 400) { t in
            t.send(job, name: "long")
            try await eventually { t.log.all.contains("completion \(job.jobID)") }
        }
        #expect(try Self.index("ack long", in: long.log.all) < Self.index("run \(job.jobID)", in: long.log.all))
    }

    @Test("a long job stopped by shutdown is never given back: it ends failed, saying so")
    func longJobStoppedByShutdown() async throws {
        let transport = FakeTransport(logsProgress: true)
        let job = makeJob("logged", ["sleep_ms": 60_000], deadline: 3600)
        try await Self.withWorker(transport, consumerTimeout: 60, grace: .milliseconds(300)) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("run \(job.jobID)") }
        } afterShutdown: { t in
            let log = t.log.all
            #expect(t.log.count(prefix: "ack j1") == 1, "\(log)")
            #expect(!log.contains { $0.hasPrefix("nack") || $0.hasPrefix("reject") }, "\(log)")
            let completion = try #require(t.publishedCompletions.first)
            #expect(t.publishedCompletions.count == 1)
            guard case .failed(let reason) = completion.outcome else {
                Issue.record("expected a failure, got \(completion.outcome)")
                return
            }
            #expect(reason.contains("shut down before it finished") && reason.contains("not run again"), "\(reason)")
        }
    }

    @Test("a long job whose start cannot be confirmed is not run here")
    func unconfirmedClaimIsNotRun() async throws {
        let transport = FakeTransport(logsProgress: true, failProgress: true)
        let job = makeJob("logged", deadline: 3600)
        try await Self.withWorker(transport, consumerTimeout: 60) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("completion \(job.jobID)") }
        }
        let log = transport.log.all
        #expect(!log.contains("run \(job.jobID)"), "\(log)")
        #expect(transport.log.count(prefix: "ack j1") == 1)
        #expect(!log.contains { $0.hasPrefix("nack") })
        guard case .failed(let reason)? = transport.publishedCompletions.first?.outcome else {
            Issue.record("expected a failure: \(transport.publishedCompletions)")
            return
        }
        #expect(reason.hasPrefix("not run:"), "\(reason)")
    }

    @Test("a long job whose completion cannot be published is not requeued (the sweeper ends it lost)")
    func unpublishedCompletionIsNotRequeued() async throws {
        let transport = FakeTransport(failCompletions: true, logsProgress: true)
        let job = makeJob("logged", deadline: 3600)
        try await Self.withWorker(transport, consumerTimeout: 60) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("completion-failed \(job.jobID)") }
        }
        let log = transport.log.all
        #expect(transport.log.count(prefix: "ack j1") == 1)
        #expect(!log.contains { $0.hasPrefix("nack") }, "\(log)")
    }

    @Test("a cancel stops a running long job although its message is already acked")
    func longJobCanBeCancelled() async throws {
        let transport = FakeTransport(logsProgress: true)
        let cancels = FakeCancels()
        let job = makeJob("logged", ["sleep_ms": 60_000], deadline: 3600)
        try await Self.withWorker(transport, consumerTimeout: 60, cancels: cancels) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("run \(job.jobID)") }
            cancels.sink.yield(CancelNotice(jobID: job.jobID, requestedBy: "alice", requestedAt: Date()))
            try await eventually { t.log.all.contains("completion \(job.jobID)") }
        }
        #expect(transport.publishedCompletions.first?.outcome == .cancelled)
        #expect(transport.log.count(prefix: "ack j1") == 1)
        #expect(try Self.index("ack j1", in: transport.log.all) < Self.index("run \(job.jobID)", in: transport.log.all))
    }
}
