import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A ledger whose pages are damaged (a bad disk, a botched copy) must stop the coordinator, not
/// leave it running on a ledger it cannot write, and must lose nothing: the work waits in the
/// broker until the ledger is restored. (Damage found while running, by a failing write, is
/// `LedgerFailureTests`: `run()` ends with `ledger_unavailable`, and the executable exits non-zero.)
extension BrokerBacked {
    @Suite(.serialized)
    struct DamagedLedgerIntegrationTests {
        @Test func aCoordinatorStartedOnADamagedLedgerExitsNonZeroAndTheJobWaitsInTheBrokerUntilTheLedgerIsRestored() async throws {
            try await withFleet("damaged") { fleet in
                try await fleet.startAll(workers: 1)
                let before = try await fleet.submitAll([
                    fleet.detach("echo", params: ["text": "before"], final: "hooks:\(fleet.parent)", mode: "direct")
                ])
                try await eventually("the first job delivered", timeout: .seconds(60)) { fleet.received().count == 1 }

                // Stop the coordinator (a graceful stop checkpoints the WAL into the main file),
                // keep a copy of the good ledger, then damage every page after the first.
                let coordinator = try #require(fleet.process("coordinator"))
                coordinator.kill(SIGTERM)
                coordinator.waitForExit()
                let ledger = fleet.ledgerPath
                let saved = ledger + ".good"
                for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ledger + suffix) }
                try FileManager.default.copyItem(atPath: ledger, toPath: saved)
                try Self.damagePages(of: ledger)

                // Restarted on it: it must exit non-zero, naming the ledger, while a job is submitted
                // (its contract and completion wait in the broker's queues).
                try? await fleet.startCoordinator()
                let after = try await fleet.submitAll([
                    fleet.detach("echo", params: ["text": "after"], final: "hooks:\(fleet.parent)", mode: "direct")
                ])
                let damaged = try #require(fleet.process("coordinator"))
                try await eventually("the coordinator on the damaged ledger exits", timeout: .seconds(60)) { !damaged.isRunning }
                let status = try #require(damaged.exitStatus)
                #expect(status != 0, "the coordinator exited 0 on a damaged ledger")
                let log = damaged.ownOutput
                #expect(log.localizedCaseInsensitiveContains("ledger"), "the exit does not name the ledger:\n\(log.suffix(1500))")
                #expect(fleet.received().count == 1, "something was delivered from a damaged ledger")
                print(
                    "damaged ledger: the coordinator exited \(status): \(log.split(separator: "\n").last(where: { $0.contains("ledger") }) ?? "")"
                )

                // Restored: the waiting job is delivered exactly once and the first is not sent again.
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: ledger + suffix) }
                try FileManager.default.moveItem(atPath: saved, toPath: ledger)
                try await fleet.startCoordinator()
                try await eventually("the waiting job delivered after the restore", timeout: .seconds(60)) {
                    fleet.received().contains { ($0.notice["job_id"] as? String) == after[0] }
                }
                try await Task.sleep(for: .milliseconds(500))
                let received = fleet.received().filter { !$0.duplicate }
                #expect(received.filter { ($0.notice["job_id"] as? String) == before[0] }.count == 1)
                #expect(received.filter { ($0.notice["job_id"] as? String) == after[0] }.count == 1)
                #expect(try fleet.ledgerJobs()[after[0]]?.finalOutcome == "delivered")
            }
        }

        /// Overwrites every page but the first (the header and schema) with bytes that are no
        /// b-tree page: SQLite opens the file and fails (SQLITE_CORRUPT) when it reads a table.
        static func damagePages(of path: String) throws {
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let header = try handle.read(upToCount: 100) ?? Data()
            try #require(header.count == 100, "the ledger has no SQLite header")
            let raw = Int(header[16]) << 8 | Int(header[17])
            let pageSize = raw == 1 ? 65_536 : raw
            let size = Int(try handle.seekToEnd())
            try #require(size > pageSize, "the ledger has a single page: nothing to damage")
            try handle.seek(toOffset: UInt64(pageSize))
            var generator = SystemRandomNumberGenerator()
            let garbage = Data((0..<(size - pageSize)).map { _ in UInt8.random(in: 0...255, using: &generator) })
            try handle.write(contentsOf: garbage)
            try handle.synchronize()
        }
    }
}
