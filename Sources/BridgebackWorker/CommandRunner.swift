import BridgebackCore
import CBridgebackProcess
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What a finished child process left behind.
struct CommandOutput: Sendable {
    /// Standard output without protocol lines, at most the cap.
    var stdout: String
    /// Bytes of ordinary output the process wrote in total (more than kept if truncated).
    var stdoutBytes: Int
    var truncated: Bool
    /// The `::result` lines, if the command printed any (at most the cap, counted together).
    var resultLines: [String]?
    /// Whether `::result` lines were dropped because they passed the cap.
    var resultTruncated: Bool = false
    /// The last few KB of standard error, for failure reasons.
    var stderrTail: String
    /// The exit code, or the number of the signal that ended the process.
    var exitStatus: Int32
    var timedOut: Bool
}

/// Runs a child process without a shell and without blocking the cooperative pool: one plain
/// thread per running command polls both output pipes, the child's pidfd and a wake-up eventfd
/// (task cancellation), and sleeps in `poll` until the next deadline of its ``ChildWatch``.
/// Timeout and cancellation send SIGTERM to the child's process group, then SIGKILL after
/// ``grace``; a grandchild that keeps the pipes open after the child exits is waited for at
/// most ``grace`` too.
enum CommandRunner {
    static let stderrKeep = 4096
    /// From SIGTERM to SIGKILL, and from the child's exit to giving up on its pipes.
    static let grace: Duration = .seconds(2)

    /// Runs `argv`. With `progress`, standard output is read through ``ProgressProtocol``: its
    /// `::progress`/`::step` lines go to `progress` while the command runs (in order; if the sink
    /// falls behind, the oldest unsent are dropped), `::result` lines to the output's `resultLines`.
    /// `usePidfd: false` takes the path of kernels without pidfds (tests).
    static func run(
        argv: [String], environment: [String: String], workingDirectory: String?, timeout: Duration, outputCap: Int,
        progress: (@Sendable (ProgressDirective) async -> Void)? = nil, usePidfd: Bool = true
    ) async throws(WorkerError) -> CommandOutput {
        let (directives, sink) = AsyncStream.makeStream(of: ProgressDirective.self, bufferingPolicy: .bufferingNewest(256))
        if progress == nil { sink.finish() }
        // Forwards directives as they arrive; ends when standard output does (or below, at the latest).
        async let forwarded: Void = {
            guard let progress else { return }
            for await directive in directives { await progress(directive) }
        }()
        let child: RunningChild
        do {
            child = try RunningChild.start(argv: argv, environment: environment, workingDirectory: workingDirectory)
        } catch {
            sink.finish()
            await forwarded
            throw error
        }
        let supervisor = ChildSupervisor(
            child: child, timeout: timeout, buffer: OutputBuffer(cap: outputCap, directives: progress == nil ? nil : sink),
            usePidfd: usePidfd)
        let output = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<CommandOutput, Never>) in
                let thread = Thread { continuation.resume(returning: supervisor.run()) }
                thread.start()
            }
        } onCancel: {
            child.wakeup.signal()
        }
        // A grandchild may still hold standard output open: stop forwarding what it prints.
        sink.finish()
        await forwarded
        return output
    }
}

/// How a child ended, decoded from a `waitpid` status by the C library's own macros.
enum WaitStatus: Sendable, Hashable {
    case exited(code: Int32)
    case signaled(signal: Int32)
    /// Stopped or continued: not an end; `waitpid` without WUNTRACED does not report these.
    case other(raw: Int32)

    init(raw: Int32) {
        if bb_wait_exited(raw) != 0 {
            self = .exited(code: bb_wait_exit_code(raw))
        } else if bb_wait_signaled(raw) != 0 {
            self = .signaled(signal: bb_wait_term_signal(raw))
        } else {
            self = .other(raw: raw)
        }
    }

    /// The number ``CommandOutput/exitStatus`` reports: the exit code, or the signal's number.
    var code: Int32 {
        switch self {
        case .exited(let code): code
        case .signaled(let signal): signal
        case .other(let raw): raw
        }
    }
}

/// The supervision of one running child as a value, with no I/O: the job thread reports what it
/// saw (cancellation, the child's exit, a pipe's end, the time) and performs the action it gets.
///
/// ```
/// running ──timeout/cancel──▶ stopping ──grace──▶ killed
///    │  (SIGTERM)               │       (SIGKILL)   │
///    └────────────exit──────────┴───────────────────┴──▶ exited ──pipes closed or grace──▶ finished
/// ```
struct ChildWatch: Sendable {
    typealias Instant = ContinuousClock.Instant

    enum Phase: Sendable, Hashable {
        case running(deadline: Instant)
        /// SIGTERM was sent; SIGKILL follows at `killAt` unless the child exits first.
        case stopping(killAt: Instant)
        /// SIGKILL was sent; only the exit is left to wait for.
        case killed
        /// Reaped; the pipes get until `drainUntil` to reach their end (a grandchild may hold them).
        case exited(WaitStatus, drainUntil: Instant)
        case finished(WaitStatus)
    }

    enum Action: Sendable, Hashable {
        case none
        /// SIGTERM to the child's process group and the child.
        case terminate
        /// SIGKILL to the child's process group and the child.
        case kill
        /// Stop watching: the output is complete (or given up on).
        case finish
    }

    private(set) var phase: Phase
    /// Whether the timeout (rather than cancellation) stopped the child.
    private(set) var timedOut = false
    private(set) var stdoutOpen = true
    private(set) var stderrOpen = true
    let grace: Duration

    init(started: Instant, timeout: Duration, grace: Duration) {
        phase = .running(deadline: started + timeout)
        self.grace = grace
    }

    /// When ``tick(now:)`` next has something to do; nil: nothing until an event.
    var wakeAt: Instant? {
        switch phase {
        case .running(let deadline): deadline
        case .stopping(let killAt): killAt
        case .exited(_, let drainUntil): drainUntil
        case .killed, .finished: nil
        }
    }

    var isFinished: Bool {
        if case .finished = phase { return true }
        return false
    }

    /// The job's task was cancelled.
    mutating func cancel(now: Instant) -> Action {
        guard case .running = phase else { return .none }
        phase = .stopping(killAt: now + grace)
        return .terminate
    }

    /// Time passed; acts on whichever deadline is due.
    mutating func tick(now: Instant) -> Action {
        switch phase {
        case .running(let deadline) where now >= deadline:
            timedOut = true
            phase = .stopping(killAt: now + grace)
            return .terminate
        case .stopping(let killAt) where now >= killAt:
            phase = .killed
            return .kill
        case .exited(let status, let drainUntil) where now >= drainUntil:
            phase = .finished(status)
            return .finish
        default:
            return .none
        }
    }

    /// `waitpid` reaped the child.
    mutating func exited(_ status: WaitStatus, now: Instant) -> Action {
        switch phase {
        case .running, .stopping, .killed:
            phase = .exited(status, drainUntil: now + grace)
            return finishIfDrained()
        case .exited, .finished:
            return .none
        }
    }

    /// A pipe reached its end (or failed).
    mutating func closed(stdout: Bool) -> Action {
        if stdout { stdoutOpen = false } else { stderrOpen = false }
        return finishIfDrained()
    }

    private mutating func finishIfDrained() -> Action {
        guard case .exited(let status, _) = phase, !stdoutOpen, !stderrOpen else { return .none }
        phase = .finished(status)
        return .finish
    }
}

/// A spawned child and the descriptors its supervising thread reads: the read ends of its two
/// output pipes, a pidfd (when the kernel has them) and the wake-up for cancellation.
struct RunningChild: Sendable {
    let pid: pid_t
    let stdout: Int32
    let stderr: Int32
    let wakeup: Wakeup

    static func start(argv: [String], environment: [String: String], workingDirectory: String?) throws(WorkerError) -> RunningChild {
        let wakeup = try Wakeup()
        let out = try ExecSafePipe()
        let err: ExecSafePipe
        do { err = try ExecSafePipe() } catch {
            out.close()
            throw error
        }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                argv: argv, environment: environment, workingDirectory: workingDirectory, stdout: out.writing, stderr: err.writing)
        } catch {
            out.close()
            err.close()
            throw WorkerError(.commandFailed, "cannot start \(argv[0]): \(error.message)")
        }
        // The write ends belong to the child now; closing ours lets EOF arrive when it exits.
        _ = close(out.writing)
        _ = close(err.writing)
        return RunningChild(pid: pid, stdout: out.reading, stderr: err.reading, wakeup: wakeup)
    }
}

/// What one thread does for one running child, from spawn to reaping: poll, read, signal, wait.
struct ChildSupervisor: Sendable {
    let child: RunningChild
    let timeout: Duration
    let buffer: OutputBuffer
    /// False: notice the exit by asking waitpid every 50 ms, as on kernels without pidfds (tests use this).
    var usePidfd = true

    /// Runs on the job's own thread; returns once the child is reaped and its output is complete
    /// (or given up on), having closed every descriptor it was given.
    func run() -> CommandOutput {
        _ = bb_thread_set_name("bb-cmd-\(child.pid)")
        var collected = buffer
        var watch = ChildWatch(started: .now, timeout: timeout, grace: CommandRunner.grace)
        // Without pidfds (kernels before 5.3), the exit is noticed by asking waitpid every 50 ms.
        let pidfd = usePidfd ? bb_pidfd_open(child.pid) : -1
        var stdout = child.stdout
        var stderr = child.stderr
        var chunk = [UInt8](repeating: 0, count: 65536)

        func perform(_ action: ChildWatch.Action) {
            switch action {
            case .terminate: signal(SIGTERM)
            case .kill: signal(SIGKILL)
            case .none, .finish: break
            }
        }
        func reap() {
            var raw: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(child.pid, &raw, WNOHANG) } while result == -1 && errno == EINTR
            if result == child.pid { perform(watch.exited(WaitStatus(raw: raw), now: .now)) }
        }
        /// Reads what is there; closes the descriptor at its end.
        func drain(_ fd: inout Int32, stdout isStdout: Bool) {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                if isStdout { collected.stdout(chunk[0..<count]) } else { collected.stderr(chunk[0..<count]) }
                return
            }
            if count < 0 && (errno == EINTR || errno == EAGAIN) { return }
            if isStdout { collected.stdoutEnded() }
            _ = close(fd)
            fd = -1
            perform(watch.closed(stdout: isStdout))
        }

        while true {
            perform(watch.tick(now: .now))
            if watch.isFinished { break }
            var wait = watch.wakeAt.map { Self.milliseconds(until: $0) } ?? -1
            if pidfd < 0 && !Self.isReaped(watch) { wait = wait < 0 ? 50 : min(wait, 50) }
            // poll() skips negative descriptors: a closed pipe or a missing pidfd is simply not watched.
            var fds = [
                pollfd(fd: stdout, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stderr, events: Int16(POLLIN), revents: 0),
                pollfd(fd: Self.isReaped(watch) ? -1 : pidfd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: child.wakeup.fd, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, nfds_t(fds.count), wait)
            if ready < 0 {
                if errno == EINTR { continue }
                break  // EINVAL/ENOMEM: nothing sensible is left but to stop watching (the child is killed below)
            }
            if fds[3].revents != 0 {
                var value: UInt64 = 0
                _ = read(child.wakeup.fd, &value, 8)
                perform(watch.cancel(now: .now))
            }
            if fds[0].revents != 0 { drain(&stdout, stdout: true) }
            if fds[1].revents != 0 { drain(&stderr, stdout: false) }
            if !Self.isReaped(watch) && (pidfd < 0 || fds[2].revents != 0) { reap() }
        }
        if !Self.isReaped(watch) {
            // Only a failing poll() gets here: do not leave the child running or unreaped.
            signal(SIGKILL)
            var raw: Int32 = 0
            while waitpid(child.pid, &raw, 0) == -1 && errno == EINTR {}
            perform(watch.exited(WaitStatus(raw: raw), now: .now))
        }
        for fd in [stdout, stderr, pidfd] where fd >= 0 { _ = close(fd) }
        let status: WaitStatus =
            switch watch.phase {
            case .finished(let status), .exited(let status, _): status
            default: .other(raw: -1)
            }
        return collected.output(status: status, timedOut: watch.timedOut)
    }

    private func signal(_ signal: Int32) {
        _ = kill(-child.pid, signal)  // the group the child leads, with whatever it started
        _ = kill(child.pid, signal)
    }

    private static func isReaped(_ watch: ChildWatch) -> Bool {
        switch watch.phase {
        case .exited, .finished: true
        case .running, .stopping, .killed: false
        }
    }

    /// A poll() timeout that does not wake before `instant` (rounded up to whole milliseconds).
    static func milliseconds(until instant: ContinuousClock.Instant) -> Int32 {
        let left = ContinuousClock.now.duration(to: instant)
        guard left > .zero else { return 0 }
        let (seconds, attoseconds) = left.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: millis)
    }
}

/// A command's output as it accumulates on its supervising thread: capped standard output,
/// progress directives handed on as they parse, `::result` lines, and a tail of standard error.
struct OutputBuffer: Sendable {
    let cap: Int
    /// Where parsed `::progress`/`::step` lines go; nil when the protocol is off.
    let directives: AsyncStream<ProgressDirective>.Continuation?
    private var parser: ProgressProtocol?
    private var kept = Data()
    private var stdoutBytes = 0
    private var resultLines: [String]?
    private var resultBytes = 0
    private var resultTruncated = false
    private var stderrData = Data()

    init(cap: Int, directives: AsyncStream<ProgressDirective>.Continuation? = nil) {
        self.cap = cap
        self.directives = directives
        if directives != nil { parser = ProgressProtocol() }
    }

    mutating func stdout(_ bytes: ArraySlice<UInt8>) {
        guard var parser else { return keep(bytes) }
        let events = parser.feed(bytes)
        self.parser = parser
        handle(events)
    }

    /// Standard output reached its end: a last unterminated protocol line still counts.
    mutating func stdoutEnded() {
        guard var parser else { return }
        handle(parser.finish())
        self.parser = nil
        directives?.finish()
    }

    private mutating func handle(_ events: [ProgressProtocol.Event]) {
        for event in events {
            switch event {
            case .output(let bytes): keep(bytes)
            case .directive(.result(let line)):
                let size = line.utf8.count + 1
                if resultBytes + size <= cap {
                    resultLines = (resultLines ?? []) + [line]
                    resultBytes += size
                } else {
                    resultLines = resultLines ?? []
                    resultTruncated = true
                }
            case .directive(let directive): directives?.yield(directive)
            }
        }
    }

    private mutating func keep(_ bytes: some Collection<UInt8>) {
        stdoutBytes += bytes.count
        let room = cap - kept.count
        if room > 0 { kept.append(contentsOf: bytes.prefix(room)) }
    }

    mutating func stderr(_ bytes: ArraySlice<UInt8>) {
        stderrData.append(contentsOf: bytes)
        if stderrData.count > CommandRunner.stderrKeep * 2 { stderrData = stderrData.suffix(CommandRunner.stderrKeep) }
    }

    func output(status: WaitStatus, timedOut: Bool) -> CommandOutput {
        CommandOutput(
            stdout: String(decoding: kept, as: UTF8.self),
            stdoutBytes: stdoutBytes,
            truncated: stdoutBytes > kept.count,
            resultLines: resultLines,
            resultTruncated: resultTruncated,
            stderrTail: String(decoding: stderrData.suffix(CommandRunner.stderrKeep), as: UTF8.self),
            exitStatus: status.code,
            timedOut: timedOut)
    }
}

/// Starts children with posix_spawn rather than Foundation's `Process`: threads of the Swift
/// runtime block most signals, `Process` lets the child inherit that mask (so SIGTERM was
/// ignored until the SIGKILL fallback), and here the child gets an empty mask, default signal
/// dispositions and a process group of its own (so a timeout stops its children too).
enum ChildProcess {
    struct SpawnError: Error { var message: String }

    static func spawn(
        argv: [String], environment: [String: String], workingDirectory: String?, stdout: Int32, stderr: Int32
    ) throws(SpawnError) -> pid_t {
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = bb_spawn(&pid, cArgs, cEnv, workingDirectory, stdout, stderr)
        guard status == 0 else {
            if status == ENOSYS && workingDirectory != nil {
                throw SpawnError(message: "this C library cannot set a child's working directory")
            }
            throw SpawnError(message: String(cString: strerror(status)))
        }
        return pid
    }
}

/// A pipe whose ends are close-on-exec from the moment they exist (`pipe2(O_CLOEXEC)`); the
/// caller owns both descriptors.
///
/// Jobs run concurrently: with Foundation's `Pipe` (no close-on-exec), a child spawned for
/// another job inherits this job's write end and holds its EOF back until that other child
/// exits, so a one-second job could wait for a one-hour one. The child gets its own copies
/// through `dup2` in the spawn file actions, which clears the flag on fds 1 and 2 only.
struct ExecSafePipe {
    let reading: Int32
    let writing: Int32

    init() throws(WorkerError) {
        var fds: [Int32] = [-1, -1]
        let status = bb_pipe2_cloexec(&fds)
        guard status == 0 else { throw WorkerError(.commandFailed, "cannot create a pipe: \(String(cString: strerror(status)))") }
        reading = fds[0]
        writing = fds[1]
    }

    func close() {
        closeDescriptor(reading)
        closeDescriptor(writing)
    }
}

/// An eventfd another thread writes to wake a supervising thread out of `poll`. A class so the
/// descriptor is closed only when the last holder (the cancellation handler may be one) is gone.
final class Wakeup: Sendable {
    let fd: Int32

    init() throws(WorkerError) {
        fd = bb_eventfd_cloexec()
        guard fd >= 0 else { throw WorkerError(.commandFailed, "cannot create an eventfd: \(String(cString: strerror(errno)))") }
    }

    func signal() {
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    deinit { closeDescriptor(fd) }
}

/// `close(2)`, callable from types that have a `close()` of their own.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
