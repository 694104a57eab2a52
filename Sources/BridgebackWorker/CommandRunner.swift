import BridgebackCore
import Foundation
import Synchronization

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
    var exitStatus: Int32
    var timedOut: Bool
}

/// Runs a child process without a shell and without blocking the cooperative pool: pipes are
/// drained by two short-lived reader threads, exit arrives via `terminationHandler`, and the
/// awaiting task is resumed through a continuation. Timeout and task cancellation send SIGTERM,
/// then SIGKILL two seconds later, to the child (and its process group when it leads one).
enum CommandRunner {
    static let stderrKeep = 4096

    /// Runs `argv`. With `progress`, standard output is read through ``ProgressProtocol``: its
    /// `::progress`/`::step` lines go to `progress` while the command runs (in order; if the sink
    /// falls behind, the oldest unsent are dropped), `::result` lines to the output's `resultLines`.
    static func run(
        argv: [String], environment: [String: String], workingDirectory: String?, timeout: Duration, outputCap: Int,
        progress: (@Sendable (ProgressDirective) async -> Void)? = nil
    ) async throws(WorkerError) -> CommandOutput {
        let (directives, sink) = AsyncStream.makeStream(of: ProgressDirective.self, bufferingPolicy: .bufferingNewest(256))
        let collector = OutputCollector(cap: outputCap, directives: progress == nil ? nil : sink)
        if progress == nil { sink.finish() }
        // Forwards directives as they arrive; ends when standard output does (or below, at the latest).
        async let forwarded: Void = {
            guard let progress else { return }
            for await directive in directives { await progress(directive) }
        }()
        let out = try ExecSafePipe()
        let err = try ExecSafePipe()
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                argv: argv, environment: environment, workingDirectory: workingDirectory,
                stdout: out.writing.fileDescriptor, stderr: err.writing.fileDescriptor)
        } catch {
            sink.finish()
            await forwarded
            throw WorkerError(.commandFailed, "cannot start \(argv[0]): \(error.message)")
        }
        collector.started(pid: pid)
        // The write ends belong to the child now; closing ours lets EOF arrive when it exits.
        try? out.writing.close()
        try? err.writing.close()
        // One plain thread per pipe doing blocking reads until EOF, and one blocking in waitpid:
        // simple, deterministic, and off the cooperative pool.
        OutputCollector.drain(out.reading) { collector.stdout($0) }
        OutputCollector.drain(err.reading) { collector.stderr($0) }
        ChildProcess.reap(pid) { collector.exited($0) }

        let timedOut = await withTaskCancellationHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await collector.finished()
                    return false
                }
                group.addTask {
                    do { try await SlicedSleep.sleep(for: timeout) } catch { return false }
                    return true
                }
                let first = await group.next() ?? false
                if first { collector.terminate() }
                group.cancelAll()
                await group.waitForAll()
                return first
            }
        } onCancel: {
            collector.terminate()
        }
        // On timeout the group already waited for the collector; on cancellation it may not have.
        await collector.finished()
        // A grandchild may still hold standard output open: stop forwarding what it prints.
        sink.finish()
        await forwarded
        return collector.output(timedOut: timedOut)
    }
}

/// Shared between the reader threads, the termination handler and the awaiting task; all state behind a Mutex.
final class OutputCollector: Sendable {
    struct State {
        var stdout = Data()
        var stdoutBytes = 0
        var parser: ProgressProtocol?
        var resultLines: [String]?
        var resultBytes = 0
        var resultTruncated = false
        var stderr = Data()
        var stdoutEOF = false
        var stderrEOF = false
        var status: Int32?
        var pid: Int32 = 0
        var terminating = false
        var forced = false
        var waiters: [CheckedContinuation<Void, Never>] = []

        var done: Bool { status != nil && ((stdoutEOF && stderrEOF) || forced) }
    }

    let cap: Int
    let state: Mutex<State>
    /// Where parsed `::progress`/`::step` lines go; nil when the protocol is off.
    let directives: AsyncStream<ProgressDirective>.Continuation?

    init(cap: Int, directives: AsyncStream<ProgressDirective>.Continuation? = nil) {
        self.cap = cap
        self.directives = directives
        var state = State()
        if directives != nil { state.parser = ProgressProtocol() }
        self.state = Mutex(state)
    }

    func started(pid: Int32) { state.withLock { $0.pid = pid } }

    /// Reads `handle` to EOF on a dedicated thread, handing each chunk (and a final empty one) to `sink`.
    static func drain(_ handle: FileHandle, into sink: @escaping @Sendable (Data) -> Void) {
        let fd = handle.fileDescriptor
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    sink(Data(buffer[0..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            try? handle.close()
            sink(Data())
        }
        thread.name = "bridgeback-command-output"
        thread.start()
    }

    func stdout(_ data: Data) {
        var progress: [ProgressDirective] = []
        resumeIfDone { state in
            guard var parser = state.parser else {
                if data.isEmpty { state.stdoutEOF = true; return }
                keep(data, in: &state)
                return
            }
            let events = data.isEmpty ? parser.finish() : parser.feed(data)
            state.parser = parser
            for event in events {
                switch event {
                case .output(let bytes): keep(bytes, in: &state)
                case .directive(.result(let line)):
                    let size = line.utf8.count + 1
                    if state.resultBytes + size <= cap {
                        state.resultLines = (state.resultLines ?? []) + [line]
                        state.resultBytes += size
                    } else {
                        state.resultLines = state.resultLines ?? []
                        state.resultTruncated = true
                    }
                case .directive(let directive): progress.append(directive)
                }
            }
            if data.isEmpty { state.stdoutEOF = true }
        }
        for directive in progress { directives?.yield(directive) }
        if data.isEmpty { directives?.finish() }
    }

    private func keep(_ bytes: some Collection<UInt8>, in state: inout State) {
        state.stdoutBytes += bytes.count
        let room = cap - state.stdout.count
        if room > 0 { state.stdout.append(contentsOf: bytes.prefix(room)) }
    }

    func stderr(_ data: Data) {
        resumeIfDone { state in
            if data.isEmpty { state.stderrEOF = true; return }
            state.stderr.append(data)
            if state.stderr.count > CommandRunner.stderrKeep * 2 { state.stderr = state.stderr.suffix(CommandRunner.stderrKeep) }
        }
    }

    func exited(_ status: Int32) {
        resumeIfDone { $0.status = status }
        // A grandchild may hold the pipes open after the child exits; do not wait for it forever.
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
            resumeIfDone { $0.forced = true }
        }
    }

    /// SIGTERM now, SIGKILL in two seconds, unless the child has already been reaped.
    func terminate() {
        let pid: Int32? = state.withLock { state in
            guard state.status == nil, state.pid > 0, !state.terminating else { return nil }
            state.terminating = true
            return state.pid
        }
        guard let pid else { return }
        Self.signal(pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 2) { [self] in
            let alive = state.withLock { $0.status == nil }
            if alive { Self.signal(pid, SIGKILL) }
        }
    }

    private static func signal(_ pid: Int32, _ signal: Int32) {
        _ = kill(-pid, signal)  // the group, if the child leads one
        _ = kill(pid, signal)
    }

    func finished() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    private func resumeIfDone(_ change: (inout State) -> Void) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            change(&state)
            guard state.done else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func output(timedOut: Bool) -> CommandOutput {
        state.withLock { state in
            CommandOutput(
                stdout: String(decoding: state.stdout, as: UTF8.self),
                stdoutBytes: state.stdoutBytes,
                truncated: state.stdoutBytes > state.stdout.count,
                resultLines: state.resultLines,
                resultTruncated: state.resultTruncated,
                stderrTail: String(decoding: state.stderr.suffix(CommandRunner.stderrKeep), as: UTF8.self),
                exitStatus: state.status ?? -1,
                timedOut: timedOut)
        }
    }
}

/// Starts children with posix_spawn rather than Foundation's `Process`: threads of the Swift
/// runtime block most signals, `Process` lets the child inherit that mask (so SIGTERM was
/// ignored until the SIGKILL fallback), and here the child gets an empty mask, default signal
/// dispositions and a process group of its own (so a timeout stops its children too).
enum ChildProcess {
    struct SpawnError: Error { var message: String }

    /// glibc ≥ 2.29 has posix_spawn_file_actions_addchdir_np, but Swift only sees it with
    /// _GNU_SOURCE; look it up with dlsym and call it with the C convention.
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    static let addChdir: AddChdir? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np") else { return nil }
        return unsafeBitCast(symbol, to: AddChdir.self)
    }()

    static func spawn(
        argv: [String], environment: [String: String], workingDirectory: String?, stdout: Int32, stderr: Int32
    ) throws(SpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        if let workingDirectory {
            guard let addchdir = addChdir else { throw SpawnError(message: "this C library cannot set a child's working directory") }
            _ = addchdir(&actions, workingDirectory)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        guard status == 0 else { throw SpawnError(message: String(cString: strerror(status))) }
        return pid
    }

    /// Waits for `pid` on a plain thread and reports its exit status (or the signal that ended it).
    static func reap(_ pid: pid_t, _ done: @escaping @Sendable (Int32) -> Void) {
        let thread = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let exited = status & 0x7f == 0
            done(exited ? (status >> 8) & 0xff : status & 0x7f)
        }
        thread.start()
    }
}

/// A pipe whose ends are close-on-exec from the moment they exist (`pipe2(O_CLOEXEC)`).
///
/// Jobs run concurrently: with Foundation's `Pipe` (no close-on-exec), a child spawned for
/// another job inherits this job's write end and holds its EOF back until that other child
/// exits, so a one-second job could wait for a one-hour one. The child gets its own copies
/// through `dup2` in the spawn file actions, which clears the flag on fds 1 and 2 only.
struct ExecSafePipe {
    let reading: FileHandle
    let writing: FileHandle

    /// Swift sees `pipe2` only with _GNU_SOURCE; glibc has had it since 2.9, so look it up.
    private typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Int32
    private static let pipe2: Pipe2? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pipe2").map { unsafeBitCast($0, to: Pipe2.self) }

    init() throws(WorkerError) {
        var fds: [Int32] = [-1, -1]
        guard let pipe2 = Self.pipe2 else { throw WorkerError(.commandFailed, "this C library has no pipe2") }
        guard pipe2(&fds, O_CLOEXEC) == 0 else {
            throw WorkerError(.commandFailed, "cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        reading = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true)
        writing = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
    }
}
