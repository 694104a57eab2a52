import BridgebackCore
import Foundation
import Logging
import Testing

@testable import BridgebackWorker

@Suite("Recipes")
struct RecipeTests {
    func runner(_ json: String) throws -> RecipeRunner {
        RecipeRunner(
            catalog: try RecipeCatalog.parse(Data(json.utf8)),
            environment: ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "SECRET": "hunter2", "VISIBLE": "yes"])
    }

    func run(_ runner: RecipeRunner, _ name: String, _ params: [String: JSONValue] = [:], progress: ProgressReporter = .discard)
        async throws -> String
    {
        let (recipe, values) = try runner.prepare(RecipeInvocation(name: name, params: params))
        let context = JobContext(
            jobID: JobID.make(), recipe: recipe, parameters: values, deadline: Date().addingTimeInterval(60), logger: Logger(label: "test"),
            progress: progress)
        return try await runner.run(context)
    }

    func failure(_ runner: RecipeRunner, _ name: String, _ params: [String: JSONValue] = [:]) async -> WorkerError? {
        do {
            _ = try await run(runner, name, params)
            return nil
        } catch let error as WorkerError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    @Test func commandSubstitutesWholeArgumentsWithoutShell() async throws {
        let r = try runner(
            #"{"recipes": [{"name": "echo", "kind": "command", "argv": ["printf", "[%s]", "{a}", "{b}"], "parameters": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}]}]}"#
        )
        #expect(try await run(r, "echo", ["a": "x y; rm -rf / $(id)", "b": "*"]) == "[x y; rm -rf / $(id)][*]")
        // An optional parameter without a value drops its argument.
        #expect(try await run(r, "echo", ["a": "only"]) == "[only]")
    }

    @Test func commandEnvironmentIsAllowListed() async throws {
        let r = try runner(#"{"recipes": [{"name": "env", "kind": "command", "argv": ["env"], "env": ["VISIBLE"]}]}"#)
        let output = try await run(r, "env")
        #expect(output.contains("VISIBLE=yes"))
        #expect(output.contains("BRIDGEBACK_JOB_ID=job_"))
        #expect(!output.contains("SECRET"))
        #expect(!output.contains("PATH="))
    }

    @Test func commandTimeoutStopsTheProcess() async throws {
        let r = try runner(#"{"recipes": [{"name": "slow", "kind": "command", "argv": ["sleep", "30"], "timeout_seconds": 0.3}]}"#)
        let start = ContinuousClock.now
        let error = await failure(r, "slow")
        #expect(error?.code == .timedOut)
        #expect(error?.message == "sleep timed out after 0.3 s and was stopped")
        // Stopped, not run to its end (30 s); a loose bound, because a loaded CI machine can
        // take seconds to schedule the kill and reap (it measured 6 s with the whole suite running).
        #expect(ContinuousClock.now - start < .seconds(25))
    }

    @Test func commandOutputIsCapped() async throws {
        let r = try runner(#"{"recipes": [{"name": "big", "kind": "command", "argv": ["seq", "1", "100000"], "output_cap_bytes": 100}]}"#)
        let output = try await run(r, "big")
        let (kept, note) = try #require(
            output.range(of: "\n[output truncated").map { (output[..<$0.lowerBound], output[$0.lowerBound...]) })
        #expect(kept.utf8.count == 100)
        #expect(kept.hasPrefix("1\n2\n3\n"))
        #expect(note.contains("kept 100 of 588895 bytes"), "\(note)")
    }

    @Test func commandFailureCarriesStderr() async throws {
        let r = try runner(#"{"recipes": [{"name": "ls", "kind": "command", "argv": ["ls", "/nonexistent/bb-test"]}]}"#)
        let error = await failure(r, "ls")
        #expect(error?.code == .commandFailed)
        #expect(error?.message.hasPrefix("ls exited with status 2: ") == true)
        #expect(error?.message.contains("/nonexistent/bb-test") == true)
    }

    @Test func cancellationKillsTheCommand() async throws {
        let r = try runner(#"{"recipes": [{"name": "slow", "kind": "command", "argv": ["sleep", "30"]}]}"#)
        let start = ContinuousClock.now
        let task = Task { try await run(r, "slow") }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // Killed, not run to its end (30 s); loose for the same reason as above.
        #expect(ContinuousClock.now - start < .seconds(25))
    }

    @Test func checklistRollsBackCompletedStepsInReverse() async throws {
        let r = try runner(
            """
            {"recipes": [{"name": "gate", "kind": "checklist", "steps": [
              {"name": "one", "command": {"argv": ["echo", "one done"]}, "rollback": {"command": {"argv": ["echo", "undo one"]}}},
              {"name": "two", "command": {"argv": ["echo", "two done"]}, "rollback": {"command": {"argv": ["echo", "undo two"]}}},
              {"name": "three", "command": {"argv": ["false"]}, "rollback": {"command": {"argv": ["echo", "undo three"]}}},
              {"name": "four", "command": {"argv": ["echo", "never"]}}
            ]}]}
            """)
        let steps = StepLog()
        var caught: WorkerError?
        do {
            _ = try await run(r, "gate", progress: ProgressReporter { steps.append($0.message) })
        } catch let error as WorkerError {
            caught = error
        }
        let error = try #require(caught)
        #expect(error.code == .checklistFailed)
        #expect(error.field == "three")
        #expect(
            error.message == """
                gate failed at step 3/4 three
                ok      1/4 one — one done
                ok      2/4 two — two done
                FAILED  3/4 three: false exited with status 1
                skipped 4/4 four
                rollback (newest first):
                ok      rollback two — undo two
                ok      rollback one — undo one
                """)
        #expect(
            steps.all == ["step 1/4: one", "step 2/4: two", "step 3/4: three", "step 3/4: rolling back two", "step 3/4: rolling back one"])
    }

    @Test func checklistSuccessListsEveryStep() async throws {
        let r = try runner(
            #"{"recipes": [{"name": "ok", "kind": "checklist", "steps": [{"name": "a", "command": {"argv": ["true"]}}, {"name": "b", "command": {"argv": ["echo", "fine"]}}]}]}"#
        )
        #expect(try await run(r, "ok") == "ok: all 2 steps passed\nok      1/2 a\nok      2/2 b — fine")
    }

    @Test func waitUntilConditionHolds() async throws {
        let path = "/tmp/bb-worker-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try runner(
            #"{"recipes": [{"name": "w", "kind": "wait", "parameters": [{"name": "path", "type": "string"}], "probe": {"command": {"argv": ["test", "-e", "{path}"]}}, "interval_seconds": 0.05, "timeout_seconds": 10}]}"#
        )
        let creator = Task {
            try await Task.sleep(for: .milliseconds(300))
            _ = FileManager.default.createFile(atPath: path, contents: Data())
        }
        let result = try await run(r, "w", ["path": .string(path)])
        try await creator.value
        #expect(result.hasPrefix("condition met after"))
        #expect(!result.contains("(1 check)"))
    }

    @Test func waitGivesUpAtItsTimeout() async throws {
        let r = try runner(
            #"{"recipes": [{"name": "w", "kind": "wait", "parameters": [{"name": "secs", "type": "int"}], "probe": {"command": {"argv": ["false"]}}, "interval_seconds": 0.1, "timeout_seconds": 0.35, "timeout_param": "secs"}]}"#
        )
        let error = await failure(r, "w")
        #expect(error?.code == .conditionNotMet)
        #expect(error?.message.hasPrefix("condition not met within 0.") == true, "\(String(describing: error))")
        // "after 1 check" or "after N checks", depending on how busy the machine is.
        #expect(error?.message.contains(" check") == true, "\(String(describing: error))")
        #expect(error?.message.hasSuffix("; last: false exited with status 1") == true, "\(String(describing: error))")
    }

    @Test func plainWaitSleeps() async throws {
        let r = try runner(#"{"recipes": [{"name": "sleep", "kind": "wait", "interval_seconds": 0.1, "timeout_seconds": 0.2}]}"#)
        let start = ContinuousClock.now
        #expect(try await run(r, "sleep") == "waited 0.2 s")
        #expect(ContinuousClock.now - start >= .milliseconds(200))
    }

    @Test func httpRefusesHostsOutsideTheAllowList() async throws {
        let r = try runner(
            #"{"allowed_hosts": ["127.0.0.1"], "recipes": [{"name": "h", "kind": "http", "url": "http://{host}/health", "parameters": [{"name": "host", "type": "string"}]}]}"#
        )
        let error = await failure(r, "h", ["host": "169.254.169.254"])
        #expect(error?.code == .hostNotAllowed)
        #expect(error?.message.contains("host '169.254.169.254' is not in the catalog's allowed_hosts") == true)
        // A value cannot smuggle user info or another host past the check.
        #expect(await failure(r, "h", ["host": "127.0.0.1@evil.example"])?.code == .hostNotAllowed)
    }

    @Test func httpTransportFailureIsAFailure() async throws {
        // Port 9 (discard) on loopback is closed on a test machine: connection refused.
        let r = try runner(
            #"{"allowed_hosts": ["127.0.0.1"], "recipes": [{"name": "h", "kind": "http", "url": "http://127.0.0.1:9/health", "timeout_seconds": 2}]}"#
        )
        let error = await failure(r, "h")
        #expect(error?.code == .httpFailed)
        #expect(error?.message.hasPrefix("GET http://127.0.0.1:9/health failed") == true, "\(String(describing: error))")
    }

    @Test func commandProgressLinesBecomeReportsAndTheRestStaysOutput() async throws {
        let script = """
            echo starting; echo '::step 1/2 fetch'; echo '::progress 25 fetched 1 of 4'; echo '::progress 50'; \
            echo '::step 1/2 fetch'; echo '::step 2/2 check'; echo '::nonsense 1'; echo done
            """
        let r = try runner(#"{"recipes": [{"name": "p", "kind": "command", "argv": ["sh", "-c", "\#(script)"]}]}"#)
        let reports = Reports()
        let result = try await run(r, "p", progress: reports.reporter)
        #expect(result == "starting\n::nonsense 1\ndone")
        #expect(
            reports.all == [
                "state 0.00 step 1/2: fetch", "routine 0.25 fetched 1 of 4", "routine 0.50 50% done",
                "routine 0.00 step 1/2: fetch", "state 0.50 step 2/2: check",
            ])
    }

    @Test func resultLinesReplaceTheOutputAsTheResult() async throws {
        let script = "echo 'chatter'; echo '::result line one'; echo 'more chatter'; echo '::result line two'"
        let r = try runner(#"{"recipes": [{"name": "p", "kind": "command", "argv": ["sh", "-c", "\#(script)"]}]}"#)
        #expect(try await run(r, "p") == "line one\nline two")
    }

    @Test func protocolCanBeSwitchedOff() async throws {
        let r = try runner(
            #"{"recipes": [{"name": "p", "kind": "command", "argv": ["echo", "::step 1/2 x"], "progress_protocol": false}]}"#)
        let reports = Reports()
        #expect(try await run(r, "p", progress: reports.reporter) == "::step 1/2 x")
        #expect(reports.all.isEmpty)
    }

    @Test func checklistCommandsReportWithinTheirStep() async throws {
        let r = try runner(
            """
            {"recipes": [{"name": "gate", "kind": "checklist", "steps": [
              {"name": "one", "command": {"argv": ["true"]}},
              {"name": "deploy", "command": {"argv": ["sh", "-c", "echo '::step 1/2 copy'; echo '::progress 50 half'"]}}
            ]}]}
            """)
        let reports = Reports()
        _ = try await run(r, "gate", progress: reports.reporter)
        #expect(
            reports.all == [
                "state 0.00 step 1/2: one", "state 0.50 step 2/2: deploy",
                "state 0.50 step 2/2: deploy — step 1/2: copy", "routine 0.75 step 2/2: deploy — half",
            ])
    }

    @Test func aFloodOfProtocolLinesNeitherStallsNorGrowsTheResult() async throws {
        let r = try runner(
            #"{"recipes": [{"name": "p", "kind": "command", "argv": ["sh", "-c", "seq 1 100000 | sed 's/^/::progress 1 n=/'; echo end"], "output_cap_bytes": 100}]}"#
        )
        let reports = Reports()
        #expect(try await run(r, "p", progress: reports.reporter) == "end")
        #expect(reports.all.count >= 1 && reports.all.count <= 100_000)
    }

    @Test func throttleAdmitsStateChangesAndSparseUpdates() {
        var throttle = ProgressThrottle(interval: .seconds(5))
        let t0 = ContinuousClock.now
        #expect(throttle.admit(stateChange: true, at: t0) == 1)
        #expect(throttle.admit(stateChange: false, at: t0 + .seconds(1)) == nil)
        #expect(throttle.admit(stateChange: false, at: t0 + .seconds(4.9)) == nil)
        #expect(throttle.admit(stateChange: true, at: t0 + .seconds(4.95)) == 2)
        #expect(throttle.admit(stateChange: false, at: t0 + .seconds(9)) == nil)
        #expect(throttle.admit(stateChange: false, at: t0 + .seconds(10)) == 3)
        var retry = ProgressThrottle(interval: .seconds(5), firstSequence: 10_001)
        #expect(retry.admit(stateChange: true, at: t0) == 10_001)
    }
}

final class StepLog: Sendable {
    private let log = EventLog()
    func append(_ line: String) { log.append(line) }
    var all: [String] { log.all }
}

@Suite("A duration in progress text")
struct DurationTextTests {
    /// Whole seconds as such, others to a tenth as `%.1f` writes them, for every millisecond up to
    /// 20 s and a few large values.
    @Test func secondsReadAsPrintfWritesThem() {
        #expect(RecipeRunner.seconds(.seconds(3)) == "3 s")
        #expect(RecipeRunner.seconds(.milliseconds(1500)) == "1.5 s")
        #expect(RecipeRunner.seconds(.milliseconds(960)) == "1.0 s")
        #expect(RecipeRunner.seconds(.milliseconds(40)) == "0.0 s")
        var differing: [Int] = []
        for milliseconds in Array(1...20_000) + [86_400_123, 3_600_000_049] {
            let value = Double(milliseconds) / 1000
            let expected = value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
            if RecipeRunner.seconds(.milliseconds(milliseconds)) != expected { differing.append(milliseconds) }
        }
        #expect(differing.isEmpty, "differs from %.1f at \(differing.prefix(10)) ms")
    }
}
