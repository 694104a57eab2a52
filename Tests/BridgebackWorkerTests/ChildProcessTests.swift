import BridgebackCore
import Foundation
import Synchronization
import Testing

@testable import BridgebackWorker

/// Children of concurrent jobs must not hold each other's output pipes; each running command
/// has one supervising thread, gone when the command is.
@Suite("Child processes")
struct ChildProcessTests {
    @Test func pipeEndsAreCloseOnExecFromTheStart() throws {
        let pipe = try ExecSafePipe()
        defer { pipe.close() }
        for fd in [pipe.reading, pipe.writing] {
            #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0, "fd \(fd) would leak into children of other jobs")
        }
    }

    /// Regression: with inheritable pipes, a long child spawned for one job kept another job's
    /// write end open, so the short job's output reached EOF only when the long child died.
    /// A child lists its open descriptors: another job's pipe and wake-up must not be among them,
    /// while a Foundation `Pipe` (the control) is inherited, which shows the check can see a leak.
    @Test func aChildDoesNotInheritAnotherJobsPipe() async throws {
        let other = try ExecSafePipe()
        defer { other.close() }
        let wakeup = try Wakeup()
        let control = Pipe()
        let output = try await CommandRunner.run(
            argv: ["/bin/ls", "/proc/self/fd"], environment: [:], workingDirectory: nil, timeout: .seconds(30), outputCap: 4096)
        let open = Set(output.stdout.split(separator: "\n").compactMap { Int32($0) })
        #expect(!open.contains(other.reading))
        #expect(!open.contains(other.writing))
        #expect(!open.contains(wakeup.fd))
        #expect(open.contains(control.fileHandleForWriting.fileDescriptor), "the control pipe should leak; the check cannot see leaks")
    }

    @Test func exitCodesAndSignalsAreReported() async throws {
        let exited = try await CommandRunner.run(
            argv: ["/bin/sh", "-c", "exit 3"], environment: [:], workingDirectory: nil, timeout: .seconds(30), outputCap: 64)
        #expect(exited.exitStatus == 3)
        let signaled = try await CommandRunner.run(
            argv: ["/bin/sh", "-c", "kill -TERM $$"], environment: [:], workingDirectory: nil, timeout: .seconds(30), outputCap: 64)
        #expect(signaled.exitStatus == SIGTERM)
        #expect(!signaled.timedOut)
    }

    @Test func theWorkingDirectoryIsSet() async throws {
        let output = try await CommandRunner.run(
            argv: ["/bin/pwd"], environment: [:], workingDirectory: "/proc", timeout: .seconds(30), outputCap: 64)
        #expect(output.stdout == "/proc\n")
        await #expect(throws: WorkerError.self) {
            _ = try await CommandRunner.run(
                argv: ["/bin/pwd"], environment: [:], workingDirectory: "/nonexistent/bb-test", timeout: .seconds(30), outputCap: 64)
        }
    }

    /// A child that ignores SIGTERM (and so do its children, which inherit that) is killed with
    /// its process group once the grace period after the timeout has passed.
    @Test func aChildIgnoringSIGTERMIsKilledAfterTheGrace() async throws {
        let start = ContinuousClock.now
        let output = try await CommandRunner.run(
            argv: ["/bin/sh", "-c", "trap '' TERM; echo armed; sleep 30; echo survived"], environment: [:], workingDirectory: nil,
            timeout: .milliseconds(200), outputCap: 64)
        #expect(output.timedOut)
        #expect(output.exitStatus == SIGKILL)
        #expect(output.stdout == "armed\n")
        #expect(ContinuousClock.now - start >= CommandRunner.grace)
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    /// Without a pidfd (kernels before 5.3) the exit is found by polling waitpid: same results.
    @Test func withoutPidfdsTheExitIsStillSeen() async throws {
        let output = try await CommandRunner.run(
            argv: ["/bin/sh", "-c", "echo out; echo err >&2; exit 4"], environment: [:], workingDirectory: nil, timeout: .seconds(30),
            outputCap: 64, usePidfd: false)
        #expect(output.stdout == "out\n")
        #expect(output.stderrTail == "err\n")
        #expect(output.exitStatus == 4)
        let stopped = try await CommandRunner.run(
            argv: ["/bin/sleep", "30"], environment: [:], workingDirectory: nil, timeout: .milliseconds(100), outputCap: 64,
            usePidfd: false)
        #expect(stopped.timedOut)
        #expect(stopped.exitStatus == SIGTERM)
    }

    /// While a command runs, exactly one thread carries its name (`bb-cmd-PID`); once `run`
    /// returns, that thread is gone. Observed through /proc, from the progress sink, which runs
    /// while the child is alive; the child is then stopped by cancellation.
    @Test func oneThreadPerRunningCommand() async throws {
        let seen = Mutex<(pid: Int32, threads: Int)?>(nil)
        let task = Task {
            try await CommandRunner.run(
                argv: ["/bin/sh", "-c", "echo \"::progress 10 $$\"; exec sleep 30"], environment: [:], workingDirectory: nil,
                timeout: .seconds(60), outputCap: 4096
            ) { directive in
                guard case .progress(_, let message) = directive, let pid = Int32(message) else { return }
                seen.withLock { $0 = (pid, Self.threads(named: "bb-cmd-\(pid)")) }
            }
        }
        let deadline = ContinuousClock.now + .seconds(20)
        while seen.withLock({ $0 == nil }) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        task.cancel()
        let output = try await task.value
        let observed = try #require(seen.withLock { $0 })
        #expect(observed.threads == 1)
        #expect(output.exitStatus == SIGTERM)
        // The thread resumes the caller just before it returns: give it a moment to end.
        var left = Self.threads(named: "bb-cmd-\(observed.pid)")
        for _ in 0..<100 where left > 0 {
            try await Task.sleep(for: .milliseconds(10))
            left = Self.threads(named: "bb-cmd-\(observed.pid)")
        }
        #expect(left == 0)
    }

    /// A grandchild that keeps standard output open does not hold the command past its exit by
    /// more than the grace period.
    @Test func aGrandchildHoldingThePipeIsNotWaitedForForever() async throws {
        let start = ContinuousClock.now
        let output = try await CommandRunner.run(
            argv: ["/bin/sh", "-c", "sleep 5 & echo done"], environment: [:], workingDirectory: nil, timeout: .seconds(60), outputCap: 64)
        #expect(output.stdout == "done\n")
        #expect(output.exitStatus == 0)
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    static func threads(named name: String) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.trimmingCharacters(in: .whitespacesAndNewlines) == name
        }.count
    }
}

@Suite("Wait status")
struct WaitStatusTests {
    /// Linux encodes an exit as code << 8, a signal in the low seven bits (0x80: core dumped),
    /// a stop as signal << 8 | 0x7f.
    @Test func decodesTheKernelsEncoding() {
        #expect(WaitStatus(raw: 0) == .exited(code: 0))
        #expect(WaitStatus(raw: 3 << 8) == .exited(code: 3))
        #expect(WaitStatus(raw: 255 << 8) == .exited(code: 255))
        #expect(WaitStatus(raw: SIGTERM) == .signaled(signal: SIGTERM))
        #expect(WaitStatus(raw: SIGSEGV | 0x80) == .signaled(signal: SIGSEGV))
        #expect(WaitStatus(raw: SIGSTOP << 8 | 0x7f) == .other(raw: SIGSTOP << 8 | 0x7f))
        #expect(WaitStatus.exited(code: 2).code == 2)
        #expect(WaitStatus.signaled(signal: SIGKILL).code == SIGKILL)
    }
}

@Suite("Child watch")
struct ChildWatchTests {
    let t0 = ContinuousClock.now

    @Test func timeoutTerminatesThenKills() {
        var watch = ChildWatch(started: t0, timeout: .seconds(10), grace: .seconds(2))
        #expect(watch.wakeAt == t0 + .seconds(10))
        #expect(watch.tick(now: t0 + .seconds(9)) == .none)
        #expect(watch.tick(now: t0 + .seconds(10)) == .terminate)
        #expect(watch.timedOut)
        #expect(watch.wakeAt == t0 + .seconds(12))
        #expect(watch.tick(now: t0 + .seconds(11)) == .none)
        #expect(watch.tick(now: t0 + .seconds(12)) == .kill)
        #expect(watch.wakeAt == nil)
        #expect(watch.tick(now: t0 + .seconds(100)) == .none)
        #expect(watch.exited(.signaled(signal: SIGKILL), now: t0 + .seconds(12)) == .none)
        #expect(watch.closed(stdout: true) == .none)
        #expect(watch.closed(stdout: false) == .finish)
        #expect(watch.phase == .finished(.signaled(signal: SIGKILL)))
    }

    @Test func cancellationTerminatesOnceAndIsNotATimeout() {
        var watch = ChildWatch(started: t0, timeout: .seconds(10), grace: .seconds(2))
        #expect(watch.cancel(now: t0 + .seconds(1)) == .terminate)
        #expect(watch.cancel(now: t0 + .seconds(1)) == .none)
        #expect(watch.tick(now: t0 + .seconds(2)) == .none)
        #expect(!watch.timedOut)
        #expect(watch.closed(stdout: true) == .none)
        #expect(watch.closed(stdout: false) == .none)
        #expect(watch.exited(.signaled(signal: SIGTERM), now: t0 + .seconds(2)) == .finish)
        #expect(watch.isFinished)
    }

    @Test func anExitedChildIsNotSignalled() {
        var watch = ChildWatch(started: t0, timeout: .seconds(10), grace: .seconds(2))
        #expect(watch.exited(.exited(code: 0), now: t0 + .seconds(1)) == .none)
        #expect(watch.cancel(now: t0 + .seconds(1)) == .none)
        #expect(watch.tick(now: t0 + .seconds(2)) == .none)
        #expect(!watch.timedOut)
        // A grandchild holds the pipes: the output is given up on after the grace period.
        #expect(watch.wakeAt == t0 + .seconds(3))
        #expect(watch.tick(now: t0 + .seconds(3)) == .finish)
        #expect(watch.phase == .finished(.exited(code: 0)))
    }

    @Test func pipesClosingFirstFinishAtTheExit() {
        var watch = ChildWatch(started: t0, timeout: .seconds(10), grace: .seconds(2))
        #expect(watch.closed(stdout: false) == .none)
        #expect(watch.closed(stdout: true) == .none)
        #expect(watch.exited(.exited(code: 1), now: t0 + .seconds(1)) == .finish)
        #expect(watch.phase == .finished(.exited(code: 1)))
    }
}
