import Foundation
public import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The exclusive lock that makes one coordinator the deliverer of a ledger.
///
/// An `flock(LOCK_EX)` on a lock file beside the ledger. The kernel drops it when the
/// holding process exits, however it exits (kill -9 included), so a standby on the same
/// host and the same data directory takes over at once. A coordinator consumes, resumes
/// deliveries and sweeps only while it holds the lock; until then it is a standby. The
/// coordinator queues being single-active-consumer is the second fence, on the broker's side.
///
/// `flock` is per host: it does not fence a coordinator on another host (see
/// docs/delivery.md, "A standby on another host").
public final class LedgerLock: Sendable {
    /// The lock file's path.
    public let path: String
    /// The open descriptor while held; -1 before. Closed by `release()` or process exit.
    private let descriptor = Mutex<Int32>(-1)

    /// `path`: the lock file (created if missing), normally `<data dir>/coordinator.lock`.
    public init(path: String) {
        self.path = path
    }

    /// Whether this process holds the lock.
    public var isHeld: Bool { descriptor.withLock { $0 >= 0 } }

    /// Takes the lock if free; false if another process holds it.
    public func tryAcquire() throws(CoordinatorError) -> Bool {
        try descriptor.withLock { (held: inout Int32) throws(CoordinatorError) -> Bool in
            if held >= 0 { return true }
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw CoordinatorError(
                    .ledgerUnavailable,
                    "cannot open the ledger lock file \(path): \(String(cString: strerror(errno))); check the data directory")
            }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                let pid = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = pid.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count, 0) }
                held = fd
                return true
            }
            let error = errno
            close(fd)
            guard error == EWOULDBLOCK else {
                throw CoordinatorError(.ledgerUnavailable, "cannot lock \(path): \(String(cString: strerror(error)))")
            }
            return false
        }
    }

    /// The pid written by the current holder, if readable (for the standby's log line).
    public var holder: String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// Waits until the lock is held (true), polling every `interval`; false if the task was
    /// cancelled or a graceful shutdown began while standing by. Logs once that this process
    /// is a standby, and once when it becomes active.
    public func acquire(poll interval: Duration = .milliseconds(250), logger: Logger) async throws(CoordinatorError) -> Bool {
        if try tryAcquire() { return true }
        logger.notice(
            "coordinator standby: another coordinator holds the ledger lock; waiting for it",
            metadata: ["lock": "\(path)", "holder_pid": "\(holder ?? "unknown")"])
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return false
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return false }
            if try tryAcquire() {
                logger.notice("coordinator active: this process now holds the ledger lock", metadata: ["lock": "\(path)"])
                return true
            }
        }
    }

    /// Drops the lock (graceful shutdown, after the last ledger write).
    public func release() {
        descriptor.withLock { fd in
            if fd >= 0 {
                flock(fd, LOCK_UN)
                close(fd)
            }
            fd = -1
        }
    }
}
