import Foundation
import BridgebackLedger
import GRDB

/// Copies of the coordinator's ledger that can be restored: the one piece of state whose loss
/// would mean final notices sent twice or never.
///
/// `backup` uses SQLite's online backup API, so it runs beside a live coordinator and copies one
/// consistent snapshot (the last committed transaction, WAL included); `verify` opens a copy
/// read-only and checks it the way a restore drill would before putting it in place.
public enum LedgerBackup {
    /// What a ledger file holds.
    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var jobs: Int
        public var parts: Int
        /// Jobs whose final notice is not settled yet: they resume after a restore.
        public var unfinishedJobs: Int
        public var bytes: Int

        public var description: String {
            "\(jobs) jobs (\(unfinishedJobs) unfinished), \(parts) delivery parts, \(bytes) bytes"
        }
    }

    /// Writes a consistent copy of the ledger at `source` to `destination` (refused if it exists),
    /// through a temporary file renamed into place, so a half-written backup never has the final name.
    @discardableResult
    public static func backup(ledgerAt source: String, to destination: String) throws(CoordinatorError) -> Summary {
        guard FileManager.default.fileExists(atPath: source) else {
            throw CoordinatorError(.ledgerUnavailable, "no ledger at \(source); pass the coordinator's --data-dir")
        }
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw CoordinatorError(.invalidConfiguration, "\(destination) exists; backups are never overwritten, choose a new name")
        }
        let temporary = destination + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            let live = try DatabaseQueue(path: source, configuration: configuration)
            let copy = try DatabaseQueue(path: temporary)
            try live.backup(to: copy)
            try copy.close()
            try live.close()
            try FileManager.default.moveItem(atPath: temporary, toPath: destination)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CoordinatorError(.ledgerUnavailable, "backup of \(source) to \(destination) failed: \(error)")
        }
        return try verify(destination)
    }

    /// Opens `path` read-only, runs SQLite's integrity check, and counts jobs and parts.
    public static func verify(_ path: String) throws(CoordinatorError) -> Summary {
        do {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                let check = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard check == ["ok"] else {
                    throw CoordinatorError(
                        .ledgerCorrupt, "\(path) fails SQLite's integrity check: \(check.prefix(3).joined(separator: "; "))")
                }
                typealias Jobs = LedgerSchema.Jobs
                let jobs = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(Jobs.table)") ?? 0
                let unfinished =
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(Jobs.table) WHERE \(Jobs.finalOutcome.name) IS NULL") ?? 0
                let parts = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(LedgerSchema.Parts.table)") ?? 0
                let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
                return Summary(jobs: jobs, parts: parts, unfinishedJobs: unfinished, bytes: size)
            }
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(.ledgerCorrupt, "\(path) is not a readable ledger: \(error)")
        }
    }
}
