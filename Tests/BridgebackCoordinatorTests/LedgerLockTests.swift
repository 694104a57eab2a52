@testable import BridgebackCoordinator
import Foundation
import Logging
import Testing

@Suite("Ledger lock: one holder per data directory")
struct LedgerLockTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("bb-lock-\(UUID().uuidString).lock").path
    }

    @Test("a second lock on the same file waits until the first is released, then holds it")
    func secondWaits() async throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = LedgerLock(path: path)
        let second = LedgerLock(path: path)
        #expect(try first.tryAcquire())
        #expect(try !second.tryAcquire())
        #expect(second.holder == "\(getpid())")
        let waiter = Task { try await second.acquire(poll: .milliseconds(20), logger: Logger(label: "test")) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!second.isHeld)
        first.release()
        #expect(try await waiter.value)
        #expect(second.isHeld)
        #expect(try !first.tryAcquire())
        second.release()
    }

    @Test("a lock held by a process that is killed -9 is free at once")
    func killedHolderFreesIt() async throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        // One process (the shell execs into sleep, keeping fd 9) holds the lock, as a coordinator would.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = ["-c", "exec 9>\"$0\"; flock 9; exec sleep 60", path]
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        let lock = LedgerLock(path: path)
        let deadline = Date().addingTimeInterval(10)
        while try lock.tryAcquire() {
            // The shell has not taken it yet: give it back and look again.
            lock.release()
            guard Date() < deadline else {
                Issue.record("the holder never took the lock")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let waiter = Task { try await lock.acquire(poll: .milliseconds(20), logger: Logger(label: "test")) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(!lock.isHeld)
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(try await waiter.value)
        lock.release()
    }
}
