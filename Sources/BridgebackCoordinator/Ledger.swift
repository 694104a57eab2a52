public import BridgebackCore
import BridgebackLedger
import BridgebackSQLite
public import Foundation
import GRDB
import Metrics
import Synchronization

private typealias Jobs = LedgerSchema.Jobs
private typealias Parts = LedgerSchema.Parts

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
    private let group: GroupCommit<Pending, Committed>
    /// Decoded contracts and their stored JSON, so a job's transitions neither decode nor
    /// re-encode its contract again.
    let contracts = ContractCache(capacity: 8192)
    /// Writes attempted through this `Ledger` (see `changeCount`).
    private let writes = Atomic<UInt64>(0)
    /// Which commits are on disk: see `commit(durable:_:)` and `awaitDurable(_:)`.
    private let durability: DurabilityTracker

    /// One change waiting for the group's transaction.
    struct Pending: Sendable {
        /// Nil: no change, only a sync of every commit before it (`syncOwnCommit`).
        var work: Work?
        /// Whether the group's commit must be synced (`synchronous=FULL`) before it is answered.
        var durable: Bool
    }

    /// A change's output and the number of the commit that holds it.
    struct Committed: Sendable {
        var output: any Sendable
        var generation: UInt64
    }

    /// Opens (creating if needed) the ledger at `path` and applies pending migrations.
    public convenience init(path: String) throws(CoordinatorError) {
        var configuration = Configuration()
        // Readers (the status API, `bridgeback audit`, an operator's sqlite3) may hold a lock for
        // a moment, also while a restarting coordinator opens the file: wait, do not fail.
        configuration.busyMode = .timeout(10)
        let queue: DatabasePool
        do {
            queue = try DatabasePool(path: path, configuration: configuration)
            // The pool runs WAL (readers never wait for the writer); `WriterSettings` puts the
            // writer at FULL, so a committed transition survives power loss (NORMAL syncs only at
            // checkpoints), and keeps the savepoints' statement journal in memory.
            try queue.writeWithoutTransaction { db in try WriterSettings.apply(db) }
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

    /// - Parameter syncDelay: how long a commit made without a sync may wait for another
    ///   writer's synced commit to cover it before the ledger syncs on its own.
    init(database: any DatabaseWriter, syncDelay: Duration = .milliseconds(20)) throws(CoordinatorError) {
        self.database = database
        let durability = DurabilityTracker(syncDelay: syncDelay)
        self.durability = durability
        // A file's WAL can be synced by hand; an in-memory ledger has nothing to sync.
        let walMode = database is DatabasePool
        group = GroupCommit(maxBatch: 1024) { pending in
            // One transaction for the group. It is synced (FULL) if any change in it must be
            // durable when answered; otherwise it commits without a sync (NORMAL: in WAL order,
            // so the next synced commit makes it durable too, and a crash of the process loses
            // nothing; only a power loss can).
            let durable = pending.contains(where: \.durable)
            let changes: [Work] = pending.compactMap(\.work)
            // FULL is the writer's resting mode (what `synchronousMode()` reads); NORMAL only for
            // this transaction when no change in it must be durable.
            let results = try await database.writeWithoutTransaction { db in
                // Only syncs asked for: a transaction without a change writes and syncs nothing,
                // so the WAL itself is synced, putting every earlier commit on disk.
                guard !changes.isEmpty else {
                    if walMode { try WALSync.sync(db) }
                    return [Result<any Sendable, any Error>]()
                }
                // Converted element by element: `[Work]` passed as it is becomes an array cast at run
                // time, from `@Sendable` functions to plain ones, which traps ("Could not cast value").
                return try GroupTransaction.run(db, durable: durable, changes.map { work in work })
            }
            let generation = durability.committed(synced: durable)
            var outputs = results.makeIterator()
            return pending.map { change in
                let result: Result<any Sendable, any Error> =
                    change.work == nil
                    ? .success(()) : outputs.next() ?? .failure(GroupCommitError(expected: changes.count, got: results.count))
                return result.map { Committed(output: $0, generation: generation) }
            }
        }
        do {
            try LedgerSchema.migrator.migrate(database)
        } catch {
            throw CoordinatorError(.ledgerUnavailable, "cannot migrate the delivery ledger: \(error)")
        }
    }

    /// Unix milliseconds below which a job the ledger does not know may have been pruned (0: never
    /// pruned), as `db` sees it. Read from the file in each transaction that applies messages, not
    /// kept in memory: a standby that opened the file long ago, or a coordinator restarted on a copy,
    /// sees the mark the last prune committed. See `LedgerRetention.swift`.
    static func prunedBefore(_ db: Database) throws -> UInt64 {
        let mark = try Int64.fetchOne(db.cachedStatement(sql: "SELECT pruned_before_ms FROM ledger_retention WHERE id = 1"))
        return UInt64(max(0, mark ?? 0))
    }

    /// `prunedBefore(_:)` as the file has it now.
    func prunedBeforeMilliseconds() async throws -> UInt64 {
        try await read { db in try Self.prunedBefore(db) }
    }

    /// Deletes up to `limit` jobs made before `before` (Unix ms, by their id) that are done with:
    /// finished, an ending whose contract never came that was already reported as an orphan, or a
    /// row that only names the job. Their delivery parts go with them (`ON DELETE CASCADE`). The
    /// ledger first records `before` as its pruned-before mark (it only moves forward), in the same
    /// transaction, so a message about a pruned job is refused from then on (`LifecycleStep`).
    /// Returns how many jobs were deleted. Committed without a sync of its own: lost in a power cut,
    /// the rows and the mark come back together.
    func prune(before: UInt64, limit: Int) async throws -> Int {
        let boundary = JobID.floor(milliseconds: before).description
        let (deleted, _) = try await commit(durable: false) { db -> Int in
            try db.execute(
                sql: "UPDATE ledger_retention SET pruned_before_ms = MAX(pruned_before_ms, ?) WHERE id = 1", arguments: [Int64(before)])
            try db.execute(
                sql: """
                    DELETE FROM \(Jobs.table) WHERE \(Jobs.jobID.name) IN (
                        SELECT \(Jobs.jobID.name) FROM \(Jobs.table) WHERE \(Jobs.jobID.name) < ?
                        AND (\(Jobs.state.name) IN ('finished', 'awaiting_contract')
                            OR (\(Jobs.state.name) = 'completion_parked' AND \(Jobs.orphanReported.name) = 1))
                        LIMIT ?)
                    """,
                arguments: [boundary, limit])
            return db.changesCount
        }
        return deleted
    }

    /// One atomic change, committed (durably) before this returns: the closure's effects commit
    /// together or not at all. It runs in a savepoint of a transaction it may share with other
    /// writers' changes; an error it throws undoes only its own.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await commit(durable: true, body).value
    }

    /// One atomic change, like `write`. With `durable` false its transaction may commit without
    /// a sync: visible to every later read and write at once, surviving a crash of the process,
    /// but on disk only once a later synced commit covers it. Whoever then tells the outside
    /// world about it (acks a message) first awaits `awaitDurable(generation)`.
    func commit<T: Sendable>(durable: Bool, _ body: @escaping @Sendable (Database) throws -> T) async throws -> (
        value: T, generation: UInt64
    ) {
        let started = ContinuousClock.now
        defer {
            commitTimer.record(duration: ContinuousClock.now - started)
            writes.add(1, ordering: .releasing)
        }
        let committed = try await group.submit(Pending(work: { db in try body(db) }, durable: durable))
        guard let value = committed.output as? T else {
            throw CoordinatorError(.ledgerCorrupt, "a ledger write returned \(type(of: committed.output))")
        }
        return (value, committed.generation)
    }

    /// Returns once commit `generation` is on disk: at once if a synced commit since covered it;
    /// otherwise after the next synced commit, or a sync the ledger makes itself if no writer's
    /// synced commit comes within `syncDelay`, or at once with `now`.
    func awaitDurable(_ generation: UInt64, now: Bool = false) async throws {
        if now {
            if durability.synced < generation { try await syncOwnCommit() }
            return
        }
        try await durability.wait(for: generation) { [self] in try await syncOwnCommit() }
    }

    /// Puts every earlier commit on disk: a sync of the WAL in the group's turn (no transaction of
    /// its own; it joins the group's synced commit when changes wait with it). Until the eighth
    /// pass of #12 this was a one-row synced write to `ledger_sync`, a table nothing writes now.
    private func syncOwnCommit() async throws {
        _ = try await group.submit(Pending(work: nil, durable: true))
    }

    /// The number of the last synced commit (every commit up to it is on disk), for tests.
    var syncedGeneration: UInt64 { durability.synced }

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
            let oldest = try Double.fetchOne(
                db, sql: "SELECT MIN(\(Jobs.createdAt.name)) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'awaiting_completion'")
            return (
                try counts("SELECT \(Jobs.state.name), COUNT(*) FROM \(Jobs.table) GROUP BY \(Jobs.state.name)"),
                try counts("SELECT \(Parts.state.name), COUNT(*) FROM \(Parts.table) GROUP BY \(Parts.state.name)"),
                oldest.map { max(0, now.timeIntervalSince1970 - $0) } ?? 0
            )
        }
    }

    /// Gives SQLite's memory back: the page caches and prepared statements of the writer and of the
    /// readers (GRDB closes idle readers; the next read opens one). Blocks until the writer is between
    /// transactions and the readers are idle: call it off the cooperative pool (`MemoryReclaimer`).
    /// The caches fill again as the work needs them (each at most SQLite's `cache_size`, 2,000 KiB).
    func releaseMemory() {
        if let pool = database as? DatabasePool {
            pool.releaseMemory()
        } else if let queue = database as? DatabaseQueue {
            queue.releaseMemory()
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
            try String.fetchAll(
                db,
                sql: "SELECT \(Jobs.jobID.name) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'delivering' ORDER BY \(Jobs.jobID.name)"
            )
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

/// Which ledger commits are on disk, and who waits for which.
///
/// Commits are numbered in order (`GroupCommit` never overlaps flushes). A synced commit puts
/// every earlier one on disk too: they are earlier frames of the same WAL file, and
/// `fdatasync` covers the whole file.
final class DurabilityTracker: Sendable {
    private struct State {
        var committed: UInt64 = 0
        var synced: UInt64 = 0
        /// `since`: when the waiter began waiting; the ledger syncs for it only once it has
        /// waited `syncDelay` (a writer's synced commit usually covers it before then).
        var waiters: [(generation: UInt64, since: ContinuousClock.Instant, continuation: CheckedContinuation<Void, any Error>)] = []
        /// A sync of the ledger's own is scheduled or running.
        var syncing = false
    }
    private let state = Mutex(State())
    let syncDelay: Duration

    init(syncDelay: Duration) { self.syncDelay = syncDelay }

    var synced: UInt64 { state.withLock { $0.synced } }

    /// How many wait for a sync (tests).
    var waiting: Int { state.withLock { $0.waiters.count } }

    /// Numbers the commit that just returned; a synced one wakes everyone it covers.
    func committed(synced: Bool) -> UInt64 {
        let (generation, ready) = state.withLock { state -> (UInt64, [CheckedContinuation<Void, any Error>]) in
            state.committed += 1
            guard synced else { return (state.committed, []) }
            state.synced = state.committed
            let ready = state.waiters.filter { $0.generation <= state.synced }.map(\.continuation)
            state.waiters.removeAll { $0.generation <= state.synced }
            return (state.committed, ready)
        }
        for continuation in ready { continuation.resume() }
        return generation
    }

    /// Waits until `generation` is synced; `sync` makes a synced commit when none comes in time.
    func wait(for generation: UInt64, sync: @escaping @Sendable () async throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start = state.withLock { state -> Bool? in
                if state.synced >= generation { return nil }
                state.waiters.append((generation, .now, continuation))
                if state.syncing { return false }
                state.syncing = true
                return true
            }
            switch start {
            case nil: continuation.resume()
            case true?: Task { await self.syncLoop(sync: sync) }
            case false?: break
            }
        }
    }

    /// Syncs once the oldest waiter has waited `syncDelay`, while anyone still waits for an
    /// unsynced commit (a writer's synced commit meanwhile usually answered them all). The wait
    /// is counted from each waiter's start, not from the loop's: a waiter that came a moment
    /// ago is not synced for early (that sync would run in front of the synced commit that was
    /// about to cover it, e.g. a contract's in front of its job's completion). A failed sync
    /// fails every waiter: their changes may not be on disk.
    private func syncLoop(sync: @escaping @Sendable () async throws -> Void) async {
        while true {
            let due = state.withLock { state -> ContinuousClock.Instant? in
                // Appended in time order: the first waits longest.
                guard let oldest = state.waiters.first?.since else {
                    state.syncing = false
                    return nil
                }
                return oldest + syncDelay
            }
            guard let due else { return }
            if due > .now {
                try? await Task.sleep(until: due, clock: .continuous)
                continue
            }
            // Answered meanwhile: the top of the loop ends it.
            if state.withLock({ $0.waiters.isEmpty }) { continue }
            do {
                try await sync()
            } catch {
                let failed = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
                    defer { state.waiters.removeAll() }
                    return state.waiters.map(\.continuation)
                }
                for continuation in failed { continuation.resume(throwing: error) }
            }
        }
    }
}
