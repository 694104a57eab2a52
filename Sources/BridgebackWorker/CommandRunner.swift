import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a finished child process left behind.
struct CommandOutput: Sendable {
    /// Standard output, at most the cap.
    var stdout: String
    /// Bytes of standard output the process wrote in total (more than kept if truncated).
    var stdoutBytes: Int
    var truncated: Bool
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

    static func run(
        argv: [String], environment: [String: String], workingDirectory: String?, timeout: Duration, outputCap: Int
    ) async throws(WorkerError) -> CommandOutput {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = environment
        if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice

        let collector = OutputCollector(cap: outputCap)
        process.terminationHandler = { process in
            collector.exited(process.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            throw WorkerError(.commandFailed, "cannot start \(argv[0]): \(error.localizedDescription)")
        }
        collector.started(pid: process.processIdentifier)
        // The write ends belong to the child now; closing ours lets EOF arrive when it exits.
        try? out.fileHandleForWriting.close()
        try? err.fileHandleForWriting.close()
        // One plain thread per pipe doing blocking reads until EOF: simple, deterministic, and
        // off the cooperative pool. The threads own the read ends and close them when done.
        OutputCollector.drain(out.fileHandleForReading) { collector.stdout($0) }
        OutputCollector.drain(err.fileHandleForReading) { collector.stderr($0) }

        let timedOut = await withTaskCancellationHandler {
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await collector.finished()
                    return false
                }
                group.addTask {
                    do { try await Task.sleep(for: timeout) } catch { return false }
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
        return collector.output(timedOut: timedOut)
    }
}

/// Shared between the reader threads, the termination handler and the awaiting task; all state behind a Mutex.
final class OutputCollector: Sendable {
    struct State {
        var stdout = Data()
        var stdoutBytes = 0
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
    let state = Mutex(State())

    init(cap: Int) { self.cap = cap }

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
        resumeIfDone { state in
            if data.isEmpty { state.stdoutEOF = true; return }
            state.stdoutBytes += data.count
            let room = cap - state.stdout.count
            if room > 0 { state.stdout.append(data.prefix(room)) }
        }
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
                stderrTail: String(decoding: state.stderr.suffix(CommandRunner.stderrKeep), as: UTF8.self),
                exitStatus: state.status ?? -1,
                timedOut: timedOut)
        }
    }
}
