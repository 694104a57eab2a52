import BridgebackAMQP
import Synchronization
import BridgebackCore
import Foundation
import Testing

@testable import BridgebackWorker

@Suite("Worker service")
struct ServiceTests {
    @Test func completionIsPublishedBeforeTheAck() async throws {
        let transport = FakeTransport()
        let job = makeJob("echo", ["text": "hello world"])
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
        }
        let log = transport.log.all
        let published = try #require(log.firstIndex(of: "completion \(job.jobID)"))
        let acked = try #require(log.firstIndex(of: "ack j1"))
        #expect(published < acked)
        let completion = try #require(transport.publishedCompletions.first)
        #expect(completion.outcome == .succeeded(result: "hello world"))
        #expect(completion.worker == "test/1")
        #expect(completion.attempt == 1)
        #expect(log.first == "open prefetch=2")
        #expect(log.last == "cancel consumer")
        let phases = transport.publishedProgress.map(\.phase)
        #expect(phases == [.started, .finished])
        #expect(transport.publishedProgress.map(\.sequence) == [1, 2])
        #expect(transport.publishedProgress.allSatisfy { $0.workSurface == "work:test" && $0.jobID == job.jobID })
        // The finished event is a summary: the result reaches people only through the final delivery.
        let finished = try #require(transport.publishedProgress.last)
        #expect(!finished.message.contains("hello"), "\(finished.message)")
        #expect(
            finished.message.hasPrefix("succeeded in ") && finished.message.contains("result of 11 bytes in 1 line"), "\(finished.message)")
    }

    /// Progress is not waited on (#12): a held job's completion is published and its message
    /// acked while the "started" event's confirm is still outstanding; "started" still goes out
    /// before "finished".
    @Test func aHeldJobsCompletionDoesNotWaitForTheStartedConfirm() async throws {
        let gate = Gate()
        let transport = FakeTransport(logsProgress: true, holdStarted: gate)
        let job = makeJob("echo", ["text": "hello"])
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
            #expect(t.log.all.contains("completion \(job.jobID)"))
            #expect(!t.log.all.contains("progress started \(job.jobID)"), "the started confirm was still held")
            gate.open()
            try await eventually { t.log.all.contains("progress finished \(job.jobID)") }
        }
        let log = transport.log.all
        let started = try #require(log.firstIndex(of: "progress started \(job.jobID)"))
        let finished = try #require(log.firstIndex(of: "progress finished \(job.jobID)"))
        #expect(started < finished)
    }

    @Test func aCompletionNackedDuringABrokerFailoverIsRetriedNotRequeued() async throws {
        let transport = FakeTransport(transientCompletionFailures: 3)
        let job = makeJob("echo", ["text": "hi"])
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
        }
        let log = transport.log.all
        #expect(log.filter { $0 == "completion-nacked \(job.jobID)" }.count == 3)
        #expect(transport.publishedCompletions.map(\.jobID) == [job.jobID])
        #expect(!log.contains { $0.hasPrefix("nack j1") }, "a requeue would spend one of the job's deliveries: \(log)")
    }

    @Test func theRetryBackoffGrowsAndIsCapped() {
        let policy = CompletionRetryPolicy(firstDelay: .milliseconds(100), maxDelay: .seconds(1), window: .seconds(10))
        #expect(
            (1...6).map { policy.delay(beforeRetry: $0) } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
            ])
        #expect(CompletionRetryPolicy.isTransient(AMQPError(.publishNacked, "nack")))
        #expect(CompletionRetryPolicy.isTransient(AMQPError(.notConnected, "down")))
        #expect(!CompletionRetryPolicy.isTransient(AMQPError(.accessRefused, "no")))
        #expect(!CompletionRetryPolicy.isTransient(TestFailure.publish))
    }

    @Test func completionPublishFailureDoesNotAck() async throws {
        let transport = FakeTransport(failCompletions: true)
        let job = makeJob("echo", ["text": "hi"])
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains { $0.hasPrefix("nack j1") } }
        }
        let log = transport.log.all
        #expect(log.contains("completion-failed \(job.jobID)"))
        #expect(log.contains("nack j1 requeue=true"))
        #expect(!log.contains("ack j1"))
    }

    @Test(arguments: [
        ("not json", Array("hello".utf8)),
        ("unknown schema", Array(#"{"schema": "bridgeback.job.v9", "job_id": "x"}"#.utf8)),
        ("wrong kind", Array(#"{"schema": "bridgeback.progress.v1"}"#.utf8)),
        ("missing field", Array(#"{"schema": "bridgeback.job.v1", "job_id": "job_01K742SG7TN426GVR1K1DKM9TR"}"#.utf8)),
    ])
    func malformedJobIsRejectedWithoutRequeue(_ label: String, _ body: [UInt8]) async throws {
        let transport = FakeTransport()
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send("bad", body: body)
            t.send(makeJob("echo", ["text": "after"]), name: "good")
            try await eventually { t.log.all.contains("ack good") }
        }
        let log = transport.log.all
        #expect(log.contains("reject bad requeue=false"), "\(label)")
        #expect(transport.publishedCompletions.count == 1)
    }

    @Test func invalidParametersFailTheJobOnce() async throws {
        let transport = FakeTransport()
        let job = makeJob("echo", ["text": "NOT lower case"])
        let unknown = makeJob("no-such-recipe")
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send(job, name: "j1")
            t.send(unknown, name: "j2")
            try await eventually { t.log.all.contains("ack j1") && t.log.all.contains("ack j2") }
        }
        let outcomes = Dictionary(uniqueKeysWithValues: transport.publishedCompletions.map { ($0.jobID, $0.outcome) })
        #expect(outcomes[job.jobID] == .failed(reason: #"recipe 'echo': parameter 'text' must match [a-z ]+, got "NOT lower case""#))
        #expect(outcomes[unknown.jobID] == .failed(reason: "this worker has no recipe 'no-such-recipe'; it knows echo, scripted"))
        // Nor does the reason ride on bb.progress (it may quote a command's stderr).
        let finished = transport.publishedProgress.filter { $0.phase == .finished }
        #expect(finished.count == 2)
        #expect(
            finished.allSatisfy {
                $0.message.hasPrefix("failed in ") && !$0.message.contains("NOT lower") && !$0.message.contains("no-such")
            })
    }

    @Test func customHandlerRuns() async throws {
        let handler = ScriptedHandler(runs: RunCounter())
        let transport = FakeTransport()
        let job = makeJob("scripted")
        try await withWorker(transport, runner: try testRunner(handler: handler)) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
        }
        #expect(handler.runs.count == 1)
        #expect(transport.publishedCompletions.first?.outcome == .succeeded(result: "hello from \(job.jobID)"))
    }

    @Test func progressIsSparse() async throws {
        let transport = FakeTransport()
        let job = makeJob("scripted", ["updates": 500, "sleep_ms": 50])
        try await withWorker(transport, runner: try testRunner(), progressInterval: .seconds(30)) { t in
            t.send(job, name: "j1")
            try await eventually { t.log.all.contains("ack j1") }
        }
        // started, then the 500 updates inside 30 s collapse to none, then finished.
        let progress = transport.publishedProgress
        #expect(progress.map(\.phase) == [.started, .finished])
        #expect(progress.map(\.sequence) == [1, 2])
    }

    @Test func deadlineFailsTheJob() async throws {
        let transport = FakeTransport()
        // The recipe would sleep a minute; only deadline enforcement lets both acks arrive in time.
        let lateID = Mutex<JobID?>(nil)
        let expired = makeJob("scripted", deadline: -1)
        let start = ContinuousClock.now
        try await withWorker(transport, runner: try testRunner()) { t in
            // The deadline counts from the moment the job is handed over, not from test set-up.
            let late = makeJob("scripted", ["sleep_ms": 60_000], deadline: 3.0)
            lateID.withLock { $0 = late.jobID }
            t.send(late, name: "late")
            t.send(expired, name: "expired")
            try await eventually(30) { t.log.all.contains("ack late") && t.log.all.contains("ack expired") }
        }
        #expect(ContinuousClock.now - start < .seconds(60), "the one-minute recipe was not cut short by its deadline")
        let outcomes = Dictionary(uniqueKeysWithValues: transport.publishedCompletions.map { ($0.jobID, $0.outcome) })
        guard let lateJobID = lateID.withLock({ $0 }), case .failed(let reason)? = outcomes[lateJobID] else {
            Issue.record("late job did not fail"); return
        }
        #expect(reason.hasPrefix("deadline exceeded: recipe 'scripted' was still running at"))
        guard case .failed(let reason2)? = outcomes[expired.jobID] else { Issue.record("expired job did not fail"); return }
        #expect(reason2.hasPrefix("deadline exceeded: the job's deadline"))
    }

    @Test func runsAtMostSlotsJobsAtOnce() async throws {
        let handler = ScriptedHandler(runs: RunCounter())
        let transport = FakeTransport()
        let jobs = (0..<5).map { _ in makeJob("scripted", ["sleep_ms": 200]) }
        let start = ContinuousClock.now
        try await withWorker(transport, runner: try testRunner(handler: handler), slots: 2) { t in
            for (index, job) in jobs.enumerated() { t.send(job, name: "j\(index)") }
            try await eventually { t.log.count(prefix: "ack") == 5 }
        }
        #expect(handler.runs.count == 5)
        #expect(handler.runs.peak == 2)
        // 5 jobs of 200 ms on 2 slots need at least 3 rounds.
        #expect(ContinuousClock.now - start >= .milliseconds(600))
    }

    @Test func gracefulShutdownFinishesShortJobsAndRequeuesTheRest() async throws {
        let transport = FakeTransport()
        let quick = makeJob("scripted", ["sleep_ms": 200])
        let slow = makeJob("scripted", ["sleep_ms": 60_000])
        let waiting = makeJob("scripted")
        let start = ContinuousClock.now
        try await withWorker(transport, runner: try testRunner(), slots: 2, grace: .milliseconds(800)) { t in
            t.send(quick, name: "quick")
            t.send(slow, name: "slow")
            t.send(waiting, name: "waiting")
            try await eventually { t.publishedProgress.filter { $0.phase == .started }.count == 2 }
        } afterShutdown: { t in
            let log = t.log.all
            #expect(log.contains("ack quick"), "\(log)")
            #expect(log.contains("nack slow requeue=true"), "\(log)")
            #expect(log.contains("nack waiting requeue=true"), "\(log)")
            #expect(!log.contains { $0.hasPrefix("ack slow") || $0.hasPrefix("ack waiting") })
            #expect(t.publishedCompletions.map(\.jobID) == [quick.jobID])
            // The consumer is cancelled last, after every delivery was settled.
            #expect(log.last == "cancel consumer")
        }
        // The slow job (60 s) was cut short by the grace period, not waited for; the bound is
        // far from both numbers so a loaded machine cannot make it flaky.
        #expect(ContinuousClock.now - start < .seconds(45))
    }

    @Test func redeliveredJobContinuesTheSequence() async throws {
        let transport = FakeTransport()
        let job = makeJob("echo", ["text": "again"])
        try await withWorker(transport, runner: try testRunner()) { t in
            t.send("j1", body: Array(try WireCodec.encode(job)), attempt: 2)
            try await eventually { t.log.all.contains("ack j1") }
        }
        #expect(transport.publishedProgress.map(\.sequence) == [10_001, 10_002])
        #expect(transport.publishedCompletions.first?.attempt == 2)
    }
}
