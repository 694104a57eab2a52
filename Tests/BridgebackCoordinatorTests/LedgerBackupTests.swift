@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("Ledger backup and the restore drill")
struct LedgerBackupTests {
    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-backup-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test("a backup taken while the coordinator writes is consistent, and a coordinator restored from it resumes without re-sending")
    func backupWhileWritingThenRestore() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let live = dir.appendingPathComponent("coordinator.sqlite").path
        let copy = dir.appendingPathComponent("backup.sqlite").path
        let harness = try Harness(ledger: try Ledger(path: live))
        let delivered = (0..<20).map { _ in makeContract(final: "hooks:a", mode: .direct) }
        let later = (0..<20).map { _ in makeContract(final: "hooks:a", mode: .direct) }
        var summary: LedgerBackup.Summary?
        try await harness.running { () async throws in
            for contract in delivered {
                _ = try await harness.coordinator.handleContract(body(contract))
                _ = try await harness.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            }
            for contract in delivered {
                #expect(try await eventually { try await harness.ledger.outcome(contract.jobID) == "delivered" })
            }
            // More contracts arrive while the backup runs: the copy holds a committed prefix, never half a transaction.
            let writer = Task {
                for contract in later { _ = try await harness.coordinator.handleContract(body(contract)) }
            }
            summary = try LedgerBackup.backup(ledgerAt: live, to: copy)
            try await writer.value
        }
        let taken = try #require(summary)
        #expect((20...40).contains(taken.jobs), "\(taken)")
        #expect(taken.unfinishedJobs == taken.jobs - 20, "only the contracts without a completion are unfinished: \(taken)")
        #expect(taken.parts >= 20)
        #expect(try LedgerBackup.verify(copy) == taken)
        let sentBefore = harness.http.requests.count
        #expect(sentBefore == 20)

        // Never overwritten.
        #expect(throws: CoordinatorError.self) { try LedgerBackup.backup(ledgerAt: live, to: copy) }

        // The drill: a coordinator started on the backup sees every delivered job as delivered and sends nothing again.
        let restored = try Harness(ledger: try Ledger(path: copy))
        try await restored.running { () async throws in
            for contract in delivered {
                #expect(try await restored.ledger.outcome(contract.jobID) == "delivered")
            }
        }
        #expect(restored.http.requests.isEmpty, "a restored ledger re-sent a delivered notice")
    }

    @Test("a damaged or missing file is refused with a reason")
    func damagedBackupIsRefused() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.sqlite").path
        _ = FileManager.default.createFile(atPath: garbage, contents: Data(repeating: 0x42, count: 8192))
        do {
            _ = try LedgerBackup.verify(garbage)
            Issue.record("a file of junk verified")
        } catch {
            #expect(error.code == .ledgerCorrupt, "\(error)")
        }
        do {
            try LedgerBackup.backup(
                ledgerAt: dir.appendingPathComponent("none.sqlite").path, to: dir.appendingPathComponent("b.sqlite").path)
            Issue.record("backed up a ledger that does not exist")
        } catch {
            #expect(error.code == .ledgerUnavailable)
            #expect(error.message.contains("--data-dir"))
        }
    }
}
