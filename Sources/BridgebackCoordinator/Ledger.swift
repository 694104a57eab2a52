public import BridgebackCore
import BridgebackLedger
public import Foundation
import GRDB
import Metrics
import Synchronization

/// The coordinator's durable memory: one SQLite file with jobs and delivery parts.
///
/// Every state change of a job or a part is atomic (its own savepoint) and committed before the
/// coordinator acts on it (acks a message, sends a part). Changes are group-committed: whatever
/// writes wait while one commit runs share the next transaction (one fsync), and each writer is
/// answered only once that transaction is durable. Restarting with the same file resumes
/// exactly where the last committed transaction left off.
public final class Ledger: Sendable {
    /// `bridgeback_coordinator_ledger_commit_seconds`: one write transaction, queueing included.
    private let commitTimer = Metrics.Timer(label: "bridgeback_coordinator_ledger_commit_seconds")
    typealias Work = @Sendable (Database) throws -> any Sendable
    let database: any DatabaseWriter
    private let group: GroupCommit<Work, any Sendable>
    /// Decoded contracts and their stored JSON, so a job's transitions neither decode nor
    /// re-encode its contract again.
    let contracts = ContractCache(capacity: 8192)
    /// Writes attempted through this `Ledger` (see `changeCount`).
    private let writes = Atomic<UInt64>(0)

    /// Opens (creating if needed) the ledger at `path` and applies pending migrations.
    public convenience init(path: String) throws(CoordinatorError) {
        var configuration = Configuration()
        // Readers (the status API, `bridgeback audit`, an operator's sqlite3) may hold a lock for
        // a moment, also while a restarting coordinator opens the file: wait, do not fail.
        configuration.busyMode = .timeout(10)
        let queue: DatabasePool
        do {
            queue = try DatabasePool(path: path, configuration: configuration)
            // The pool runs WAL (readers never wait for the writer) and GRDB sets NORMAL when it
            // turns WAL on, after `prepareDatabase`: FULL goes on the writer afterwards, so a
            // committed transition survives power loss (NORMAL syncs only at checkpoints).
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        } catch {
            throw CoordinatorError(
                .ledgerUnavailable, "cannot open the delivery ledger at \(path): \(error); check the data directory exists and is writable")
        }
        try self.init(database: queue)
    }

    /// The value of `PRAGMA synchronous` on the writer connection (2 = FULL), for tests and health.
    public func synchronousMode() async throws -> Int {
        try await database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// A ledger that lives in memory only (tests, dry runs).
    public static func inMemory() throws(CoordinatorError) -> Ledger {
        do {
            return try Ledger(database: DatabaseQueue())
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(.ledgerUnavailable, "cannot open an in-memory ledger: \(error)")
        }
    }

    init(database: any DatabaseWriter) throws(CoordinatorError) {
        self.database = database
        group = GroupCommit(maxBatch: 1024) { works in
            try await database.write { db in
                works.map { work in
                    Result { () throws -> any Sendable in
                        var output: (any Sendable)?
                        try db.inSavepoint {
                            output = try work(db)
                            return .commit
                        }
                        return output!
                    }
                }
            }
        }
        do {
            try LedgerSchema.migrator.migrate(database)
        } catch {
            throw CoordinatorError(.ledgerUnavailable, "cannot migrate the delivery ledger: \(error)")
        }
    }

    /// One atomic change, committed (durably) before this returns: the closure's effects commit
    /// together or not at all. It runs in a savepoint of a transaction it may share with other
    /// writers' changes; an error it throws undoes only its own.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let started = ContinuousClock.now
        defer {
            commitTimer.record(duration: ContinuousClock.now - started)
            writes.add(1, ordering: .releasing)
        }
        let output = try await group.submit { db in try body(db) }
        guard let value = output as? T else { throw CoordinatorError(.ledgerCorrupt, "a ledger write returned \(type(of: output))") }
        return value
    }

    /// Grows with every write this process makes (committed or not): the live
    /// dashboard re-reads the ledger only when it moved. Writes by another process (a standby's
    /// ledger tools) are not counted; the dashboard also re-reads every few seconds.
    public var changeCount: UInt64 { writes.load(ordering: .acquiring) }

    /// Jobs by lifecycle state and parts by delivery state, for the ledger gauges, and the age in
    /// seconds of the oldest job still waiting for its completion (queued or running; 0 if none).
    func stateCounts(now: Date) async throws -> (jobs: [String: Int], parts: [String: Int], oldestAwaiting: Double) {
        try await read { db in
            func counts(_ sql: String) throws -> [String: Int] {
                var result: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: sql) { result[row[0]] = row[1] }
                return result
            }
            let oldest = try Double.fetchOne(db, sql: "SELECT MIN(created_at) FROM jobs WHERE state = 'awaiting_completion'")
            return (
                try counts("SELECT state, COUNT(*) FROM jobs GROUP BY state"),
                try counts("SELECT state, COUNT(*) FROM delivery_parts GROUP BY state"),
                oldest.map { max(0, now.timeIntervalSince1970 - $0) } ?? 0
            )
        }
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database.read(body)
    }

    /// What the ledger knows about a job, or nil.
    public func job(_ id: JobID) async throws -> JobRecord? {
        try await read { [contracts] db in try JobTable.load(db, id, cache: contracts) }
    }

    /// The delivery parts of a job: final parts by number, then fallback parts.
    public func parts(of id: JobID) async throws -> [PartRecord] {
        try await read { db in try PartTable.parts(db, job: id) }
    }

    /// Jobs whose final notice is decided but not yet fully delivered (resumed at start).
    func jobsDelivering() async throws -> [JobID] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT job_id FROM jobs WHERE state = 'delivering' ORDER BY job_id")
                .compactMap { JobID($0) }
        }
    }
}

/// A job as the ledger holds it.
public struct JobRecord: Sendable, Hashable {
    public var lifecycle: JobLifecycle
    /// `delivered`, `failed`, `uncertain`, `suppressed` or `undeliverable` once finished.
    public var finalOutcome: String?
    /// Why, for `undeliverable` (and a note for the others).
    public var finalDetail: String?
    /// Whether a parked completion was already reported as an orphan.
    var orphanReported: Bool

    public var jobID: JobID { lifecycle.jobID }
    /// Duplicate endings acknowledged and not delivered.
    public var duplicates: Int { lifecycle.duplicates }

    /// The contract, once known.
    public var contract: OwnershipContract? {
        switch lifecycle.state {
        case .awaitingContract, .completionParked: nil
        case .awaitingCompletion(let c), .delivering(let c, _, _), .finished(let c, _, _): c
        }
    }

    /// The one final decision, once made.
    public var decision: JobLifecycle.FinalDecision? {
        switch lifecycle.state {
        case .delivering(_, let d, _), .finished(_, let d, _): d
        default: nil
        }
    }
}

/// One ledger row of `delivery_parts`: a part of a job's final (or fallback) notice.
public struct PartRecord: Sendable, Hashable {
    public var deliveryID: DeliveryID
    public var totalParts: Int
    /// Where it goes (the contract's final surface, or the work surface for a fallback).
    public var surfaceID: SurfaceID
    public var receiverDeduplicates: Bool
    public var state: DeliveryState
    /// The exact bytes sent on every attempt (`bridgeback.final.v1`).
    public var body: [UInt8]
    public var updatedAt: Date
}
