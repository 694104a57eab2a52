public import BridgebackCore
import BridgebackSQLite
public import Foundation
import GRDB

/// One line of the request log: every request admission decided, inline or detached.
///
/// The audit reads these rows to find requests that should have detached, so the decision,
/// its triggers, reason and policy version are kept exactly as answered.
public struct RequestLogEntry: Sendable, Hashable {
    public var id: String
    public var origin: String
    public var text: String
    /// The hints as received (JSON), if any.
    public var hintsJSON: String?
    public var decision: String
    public var forced: Bool
    public var triggers: [String]
    public var reason: String
    public var policyVersion: String
    public var receivedAt: Date
    public var idempotencyKey: String?
    /// The job this request created or (for a replay) returned.
    public var jobID: String?
    /// True when the request repeated an idempotency key and got the existing job back.
    public var replay: Bool

    public init(
        id: String, origin: String, text: String, hintsJSON: String? = nil, decision: String, forced: Bool = false,
        triggers: [String] = [], reason: String = "", policyVersion: String = "", receivedAt: Date, idempotencyKey: String? = nil,
        jobID: String? = nil, replay: Bool = false
    ) {
        self.id = id
        self.origin = origin
        self.text = text
        self.hintsJSON = hintsJSON
        self.decision = decision
        self.forced = forced
        self.triggers = triggers
        self.reason = reason
        self.policyVersion = policyVersion
        self.receivedAt = receivedAt
        self.idempotencyKey = idempotencyKey
        self.jobID = jobID
        self.replay = replay
    }
}

/// The admission side of a job: its contract and what admission knows of its state.
public struct JobRecord: Sendable, Hashable {
    /// Admission-side states. The coordinator owns everything after `published`.
    public enum State: String, Sendable, Hashable {
        /// Committed with its outbox rows; not yet confirmed by the broker.
        case accepted
        /// Contract and job confirmed by the broker.
        case published
        /// Someone asked to cancel it; see `cancelRequestedAt`.
        case cancelRequested = "cancel_requested"
    }

    public var jobID: String
    public var requestID: String
    public var contract: OwnershipContract
    public var state: State
    public var createdAt: Date
    public var publishedAt: Date?
    public var cancelRequestedAt: Date?
    public var cancelReason: String?
    /// Every field admission decided because the request left it out, as the first answer said:
    /// the contract's (`work_surface`, …) and admission's own (`recipe`, `deadline`), so a replay of
    /// the idempotency key answers the same list. For a job admitted before this was stored
    /// (migration `v4`), the contract's alone.
    public var defaultsApplied: [String]
}

/// One message waiting in (or sent from) the outbox.
public struct OutboxRow: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case contract, job
    }

    /// Insertion order; the relay publishes in this order.
    public var seq: Int64
    public var jobID: String
    public var kind: Kind
    public var exchange: String
    public var routingKey: String
    public var payload: [UInt8]
    public var createdAt: Date
    public var sentAt: Date?
    public var attempts: Int
    public var lastError: String?
}

/// A message to put in the outbox with its job.
public struct OutboxDraft: Sendable, Hashable {
    public var kind: OutboxRow.Kind
    public var exchange: String
    public var routingKey: String
    public var payload: [UInt8]

    public init(kind: OutboxRow.Kind, exchange: String, routingKey: String, payload: [UInt8]) {
        self.kind = kind
        self.exchange = exchange
        self.routingKey = routingKey
        self.payload = payload
    }
}

/// Row counts, for health and tests.
public struct StoreCounts: Sendable, Hashable {
    public var requests: Int
    public var jobs: Int
    public var outbox: Int
    public var unsent: Int
    /// Rows in `contract_refusals` (audit records of refused contracts, not jobs).
    public var refusals: Int = 0
    /// Rows in `inline_outcomes` (what callers reported about inline turns).
    public var outcomes: Int = 0
}

/// A group's changes were committed but the sync that puts them on disk failed, so none of them may
/// be answered as durable. Unlike a failed commit, they are in the database and a detach's rows may
/// already have gone to the relay: the job can still run. A retry with the same idempotency key
/// finds it.
public struct UnsyncedCommit: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "committed, but the sync to disk failed: \(reason)" }
}

/// Admission's SQLite state: request log, jobs with their contracts, and the outbox.
///
/// This target owns `admission.sqlite`: its migrations, every statement that writes it, and the
/// read-only query API (`AdmissionRecordsReader`) through which other processes read it.
///
/// A detach writes all of them in one transaction, so a job exists if and only if its
/// contract and outbox rows do; the relay only ever reads what was committed. The unique
/// index on (origin, idempotency key) makes a repeated submit return the first job even
/// when two arrive at once, also from another process on the same file.
///
/// Writes are group-committed: concurrent submits (and the relay's marks) that wait while one
/// commit runs share the next transaction, each in its own savepoint, and each caller is answered
/// only once that transaction is on disk (an accepted job survives power loss). A group's commit is
/// written first and synced after its outbox rows are handed to the relay (`WALSync`), so a job's
/// publish and its sync overlap; every other write commits with `synchronous=FULL`.
public final class AdmissionStore: Sendable {
    let writer: any DatabaseWriter
    private typealias Work = @Sendable (Database) throws -> any Sendable
    /// A change and whether its group's commit must be synced before it is answered.
    private struct Pending: Sendable {
        var work: Work
        var durable: Bool
    }
    private let group: GroupCommit<Pending, any Sendable>
    /// The outbox rows each commit inserted, handed to the relay after the commit (in commit
    /// order), so it publishes them without reading them back.
    public let outboxHandOff = OutboxHandOff()
    /// What `admit`'s change returns inside the group: its outcome and the outbox rows it inserted.
    private struct Admitted: Sendable {
        var outcome: AdmitOutcome
        var rows: [OutboxRow]
    }

    /// Opens (creating if needed) `admission.sqlite` in `directory` and migrates it.
    public convenience init(directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try self.init(path: directory.appendingPathComponent("admission.sqlite").path)
    }

    /// Opens (creating if needed) the database at `path` (WAL mode) and migrates it.
    public convenience init(path: String) throws {
        try self.init(path: path, walSync: WALSync.sync)
    }

    /// `walSync` is how a durable group's commit is put on disk after its outbox rows are handed
    /// to the relay: `WALSync.sync`; tests wrap it to watch, delay or fail the sync.
    init(path: String, walSync: @escaping @Sendable (Database) throws -> Void) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "bridgeback.admission"
        let writer = try DatabasePool(path: path, configuration: configuration)
        // FULL on the writer (setting it in `prepareDatabase` was silently undone: no commit was
        // synced). NORMAL does not sync a commit: a job answered "accepted" could vanish on power
        // loss. FULL syncs the WAL on every commit, and group commit makes that one sync per
        // group, not per request. `WriterSettings` says why the statement journal stays in memory.
        try writer.writeWithoutTransaction { db in try WriterSettings.apply(db) }
        try Self.migrator.migrate(writer)
        self.writer = writer
        let handOff = outboxHandOff
        group = GroupCommit(maxBatch: 512) { pending in
            // Synced if any change in the group must be durable when answered; a group of only the
            // relay's marks is not (in WAL order: the next synced commit puts it on disk too).
            let durable = pending.contains(where: \.durable)
            return try await writer.writeWithoutTransaction { db in
                // Committed unsynced (NORMAL for this group; the writer rests at FULL for every
                // other write): written to the WAL, so a process crash loses nothing from here on.
                let results = try GroupTransaction.run(db, durable: false, pending.map(\.work))
                // Hand the new outbox rows over (which rings the relay's doorbell) here on the
                // writer, in commit order, before the sync: the relay publishes the job while the
                // WAL syncs, instead of after (the sync is ~0.5-1 ms on an idle job's path). The
                // 202 still waits for the sync. The one new window: a power cut (not a crash)
                // between the publish and the sync can lose the record of a job that then runs;
                // its caller was never answered (docs/admission-service.md, "The outbox relay").
                handOff.handed(
                    results.flatMap { result -> [OutboxRow] in
                        if case .success(let admitted as Admitted) = result { admitted.rows } else { [] }
                    })
                // On disk before any caller is answered: the sync a FULL commit would have made.
                if durable {
                    do { try walSync(db) } catch { throw UnsyncedCommit(reason: "\(error)") }
                }
                return results
            }
        }
    }

    /// One atomic change, sharing its transaction with whatever other writes wait meanwhile; an
    /// error it throws undoes only its own change. Durable before this returns unless `durable`
    /// is false (then on disk with the next synced commit; a process crash loses nothing).
    func write<T: Sendable>(durable: Bool = true, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let output = try await group.submit(Pending(work: { db in try body(db) }, durable: durable))
        guard let value = output as? T else { throw GroupCommitError(expected: 1, got: 0) }
        return value
    }

    /// The value of `PRAGMA synchronous` on the writer connection (2 = FULL), for tests and health.
    public func synchronousMode() async throws -> Int {
        try await writer.write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE request_log (
                        id TEXT PRIMARY KEY NOT NULL,
                        origin TEXT NOT NULL,
                        text TEXT NOT NULL,
                        hints TEXT,
                        decision TEXT NOT NULL CHECK (decision IN ('inline', 'detach')),
                        forced INTEGER NOT NULL DEFAULT 0,
                        triggers TEXT NOT NULL,
                        reason TEXT NOT NULL,
                        policy_version TEXT NOT NULL,
                        received_at TEXT NOT NULL,
                        idempotency_key TEXT,
                        job_id TEXT,
                        replay INTEGER NOT NULL DEFAULT 0
                    );
                    CREATE INDEX request_log_received ON request_log(received_at);
                    CREATE TABLE jobs (
                        job_id TEXT PRIMARY KEY NOT NULL,
                        request_id TEXT NOT NULL REFERENCES request_log(id),
                        origin TEXT NOT NULL,
                        work_surface TEXT NOT NULL,
                        final_surface TEXT NOT NULL,
                        idempotency_key TEXT,
                        contract TEXT NOT NULL,
                        state TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        published_at TEXT,
                        cancel_requested_at TEXT,
                        cancel_reason TEXT
                    );
                    CREATE UNIQUE INDEX jobs_idempotency ON jobs(origin, idempotency_key) WHERE idempotency_key IS NOT NULL;
                    CREATE INDEX jobs_work ON jobs(work_surface);
                    CREATE INDEX jobs_final ON jobs(final_surface);
                    CREATE INDEX jobs_origin ON jobs(origin);
                    CREATE TABLE outbox (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT,
                        job_id TEXT NOT NULL REFERENCES jobs(job_id),
                        kind TEXT NOT NULL CHECK (kind IN ('contract', 'job')),
                        exchange TEXT NOT NULL,
                        routing_key TEXT NOT NULL,
                        payload BLOB NOT NULL,
                        created_at TEXT NOT NULL,
                        sent_at TEXT,
                        attempts INTEGER NOT NULL DEFAULT 0,
                        last_error TEXT
                    );
                    CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_at IS NULL;
                    """)
        }
        registerOutcomeMigration(&migrator)
        registerRefusalMigration(&migrator)
        migrator.registerMigration("v4: defaults applied") { db in
            // JSON array of the fields the first answer said were defaulted; NULL for older jobs.
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN defaults_applied TEXT")
        }
        migrator.registerMigration("v5: outbox by job") { db in
            // Pruning deletes a job's outbox rows with it (`prune(before:limit:)`), and the audit
            // reads each job's last outbox error (`AdmissionRecordsReader.lastOutboxError`): by
            // job, not by a scan of the whole outbox per job.
            try db.execute(sql: "CREATE INDEX outbox_by_job ON outbox(job_id)")
        }
        return migrator
    }

    // MARK: Writing requests

    /// Writes an inline decision to the request log.
    public func logRequest(_ entry: RequestLogEntry) async throws {
        try await write { db in try Self.insert(entry, db) }
    }

    /// The result of `admit`: the new job, or the one an earlier request with the same
    /// (origin, idempotency key) created.
    public enum AdmitOutcome: Sendable, Hashable {
        case created(JobRecord)
        case existing(JobRecord)
    }

    /// The job already admitted for (origin, key), if any.
    public func existingJob(origin: String, idempotencyKey: String) async throws -> JobRecord? {
        try await writer.read { db in try Self.fetchJob(db, origin: origin, key: idempotencyKey) }
    }

    /// One transaction: request log + job + contract + outbox rows. If (origin, key) already
    /// has a job, writes only a replay line in the request log and returns that job.
    ///
    /// - Parameter defaultsApplied: what the answer says was defaulted (the contract's
    ///   `defaultsApplied` when nil), kept so a replay answers the same.
    ///
    /// - Parameter encodedContract: `WireCodec.encode(contract)` when the caller already has it
    ///   (admission's outbox payload), so the contract is encoded once per job, not twice.
    ///
    /// A created job is returned as written (the given contract, state `accepted`), not read back.
    public func admit(
        request: RequestLogEntry, contract: OwnershipContract, outbox: [OutboxDraft], defaultsApplied: [String]? = nil,
        encodedContract: [UInt8]? = nil
    ) async throws -> AdmitOutcome {
        let contractJSON = try String(decoding: encodedContract ?? Array(WireCodec.encode(contract)), as: UTF8.self)
        let defaults = defaultsApplied ?? contract.defaultsApplied
        let defaultsJSON = Self.columnJSON(defaults)
        do {
            return try await write { db -> Admitted in
                if let key = request.idempotencyKey, let existing = try Self.fetchJob(db, origin: request.origin, key: key) {
                    try Self.insertReplay(request, job: existing.jobID, db)
                    return Admitted(outcome: .existing(existing), rows: [])
                }
                let jobID = contract.jobID.description
                var entry = request
                entry.jobID = jobID
                try Self.insert(entry, db)
                let created = WireDate.format(contract.createdAt)
                try db.cachedStatement(sql: AdmissionSchema.Jobs.insertSQL)
                    .execute(binding: [
                        .text(jobID), .text(request.id), .text(contract.origin.rawValue), .text(contract.workSurface.rawValue),
                        .text(contract.finalSurface.rawValue), .orNull(request.idempotencyKey), .text(contractJSON),
                        .text(JobRecord.State.accepted.rawValue), .text(created), .text(defaultsJSON),
                    ])
                let insertOutbox = try db.cachedStatement(
                    sql: "INSERT INTO outbox (job_id, kind, exchange, routing_key, payload, created_at) VALUES (?, ?, ?, ?, ?, ?)")
                var rows: [OutboxRow] = []
                for draft in outbox {
                    try insertOutbox.execute(binding: [
                        .text(jobID), .text(draft.kind.rawValue), .text(draft.exchange), .text(draft.routingKey),
                        .blob(Data(draft.payload)), .text(created),
                    ])
                    rows.append(
                        OutboxRow(
                            seq: db.lastInsertedRowID, jobID: jobID, kind: draft.kind, exchange: draft.exchange,
                            routingKey: draft.routingKey, payload: draft.payload, createdAt: contract.createdAt, sentAt: nil, attempts: 0,
                            lastError: nil))
                }
                let job = JobRecord(
                    jobID: jobID, requestID: request.id, contract: contract, state: .accepted,
                    createdAt: contract.createdAt, defaultsApplied: defaults)
                return Admitted(outcome: .created(job), rows: rows)
            }.outcome
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // Another process won the race between our check and insert: return its job.
            guard let key = request.idempotencyKey else { throw error }
            return try await writer.write { db in
                guard let existing = try Self.fetchJob(db, origin: request.origin, key: key) else { throw error }
                try Self.insertReplay(request, job: existing.jobID, db)
                return .existing(existing)
            }
        }
    }

    /// Logs a request that repeated an idempotency key and got `jobID` back.
    public func logReplay(_ entry: RequestLogEntry, jobID: String) async throws {
        try await write { db in try Self.insertReplay(entry, job: jobID, db) }
    }

    private static func insertReplay(_ entry: RequestLogEntry, job: String, _ db: Database) throws {
        var replay = entry
        replay.jobID = job
        replay.replay = true
        try insert(replay, db)
    }

    /// A JSON TEXT column that holds a list of strings (`triggers`, `defaults_applied`): the bytes a
    /// default `JSONEncoder` writes (slashes escaped), written by hand. `JSONEncoder` cost ~37,000
    /// instructions per submit for these two short lists, ~3 % of admission's work per job;
    /// `ColumnJSONTests` checks the bytes against it.
    static func columnJSON(_ values: [String]) -> String {
        var writer = WireJSONWriter(capacity: 2 + values.reduce(0) { $0 + $1.utf8.count + 3 }, escapingSlashes: true)
        writer.strings(values)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private static func insert(_ entry: RequestLogEntry, _ db: Database) throws {
        let triggers = columnJSON(entry.triggers)
        try db.cachedStatement(sql: AdmissionSchema.RequestLog.insertSQL).execute(binding: [
            .text(entry.id), .text(entry.origin), .text(entry.text), .orNull(entry.hintsJSON), .text(entry.decision),
            .bool(entry.forced), .text(triggers), .text(entry.reason), .text(entry.policyVersion),
            .text(WireDate.format(entry.receivedAt)), .orNull(entry.idempotencyKey), .orNull(entry.jobID), .bool(entry.replay),
        ])
    }

    // MARK: Reading jobs

    /// The job with `id`, or nil.
    public func job(id: String) async throws -> JobRecord? {
        try await writer.read { db in try Self.fetchJob(db, id: id) }
    }

    /// Jobs whose origin, work or final surface is `surface` (all jobs when nil), newest first.
    ///
    /// - Parameter originGlobs: when given, only jobs whose origin matches one of these SQLite
    ///   `GLOB` patterns (a principal's origins; `[]` matches nothing).
    public func jobs(surface: String?, limit: Int, originGlobs: [String]? = nil) async throws -> [JobRecord] {
        try await writer.read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let surface {
                conditions.append("(origin = ? OR work_surface = ? OR final_surface = ?)")
                arguments += [surface, surface, surface]
            }
            if let originGlobs {
                conditions.append(
                    originGlobs.isEmpty ? "0" : "(" + originGlobs.map { _ in "origin GLOB ?" }.joined(separator: " OR ") + ")")
                arguments += StatementArguments(originGlobs)
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") + " "
            arguments += [limit]
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM jobs \(filter)ORDER BY job_id DESC LIMIT ?", arguments: arguments)
            return try rows.map(Self.job(from:))
        }
    }

    /// Records a cancel request (the first one wins; later ones return the job unchanged).
    /// Nil if there is no such job.
    public func requestCancel(jobID: String, reason: String?, at date: Date) async throws -> JobRecord? {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE jobs SET state = ?, cancel_requested_at = ?, cancel_reason = ? WHERE job_id = ? AND cancel_requested_at IS NULL",
                arguments: [JobRecord.State.cancelRequested.rawValue, WireDate.format(date), reason, jobID])
            return try Self.fetchJob(db, id: jobID)
        }
    }

    private static func fetchJob(_ db: Database, id: String) throws -> JobRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE job_id = ?"), arguments: [id]).map(job(from:))
    }

    private static func fetchJob(_ db: Database, origin: String, key: String) throws -> JobRecord? {
        // Cached: every submit with an idempotency key runs it (on a reader, then in the write).
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE origin = ? AND idempotency_key = ?"), arguments: [origin, key])
            .map(job(from:))
    }

    /// One `jobs` row as a record (shared with `AdmissionRecordsReader`).
    static func job(from row: Row) throws -> JobRecord {
        typealias Jobs = AdmissionSchema.Jobs
        let text: String = row[Jobs.contract]
        let contract = try WireCodec.decode(OwnershipContract.self, from: Data(text.utf8))
        let stateText: String = row[Jobs.state]
        let defaultsText: String? = row[Jobs.defaultsApplied]
        let defaults = defaultsText.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }
        return JobRecord(
            jobID: row[Jobs.jobID], requestID: row[Jobs.requestID], contract: contract,
            state: JobRecord.State(rawValue: stateText) ?? .accepted,
            createdAt: date(row[Jobs.createdAt]) ?? contract.createdAt,
            publishedAt: date(row[Jobs.publishedAt]), cancelRequestedAt: date(row[Jobs.cancelRequestedAt]),
            cancelReason: row[Jobs.cancelReason], defaultsApplied: defaults ?? contract.defaultsApplied)
    }

    static func date(_ text: String?) -> Date? { text.flatMap(WireDate.parse) }

    // MARK: Outbox

    /// Unsent rows in insertion order.
    public func unsentOutbox(limit: Int) async throws -> [OutboxRow] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT ?", arguments: [limit])
                .map(Self.outboxRow(from:))
        }
    }

    /// Every outbox row in order (tests and diagnostics).
    public func allOutbox() async throws -> [OutboxRow] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY seq").map(Self.outboxRow(from:))
        }
    }

    /// Marks rows confirmed by the broker; a job whose job row is sent becomes `published`.
    public func markSent(_ rows: [OutboxRow], at date: Date) async throws {
        try await recordOutcomes(sent: rows, failed: [], at: date)
    }

    /// Counts a failed attempt and keeps the error for `GET /health` and the operator.
    public func markFailed(_ failures: [(seq: Int64, error: String)]) async throws {
        try await recordOutcomes(sent: [], failed: failures, at: Date())
    }

    /// One relay pass's outcomes in one transaction: confirmed rows marked sent (their jobs
    /// `published`), failed ones counted with their error.
    public func recordOutcomes(sent rows: [OutboxRow], failed failures: [(seq: Int64, error: String)], at date: Date) async throws {
        guard !rows.isEmpty || !failures.isEmpty else { return }
        let failures = failures.map { Failure(seq: $0.seq, error: $0.error) }
        // Not synced: a mark lost to a power cut only publishes its row again, which the
        // coordinator and the workers drop by job id (as after `outcomeUnknown`).
        try await write(durable: false) { db in
            let stamp = WireDate.format(date)
            let markSent = try db.cachedStatement(
                sql: "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE seq = ? AND sent_at IS NULL")
            // By the job's key: the relay knows which rows are jobs (a contract row publishes nothing).
            let publish = try db.cachedStatement(sql: "UPDATE jobs SET state = ?, published_at = ? WHERE job_id = ? AND state = ?")
            for row in rows {
                try markSent.execute(binding: [.text(stamp), .integer(row.seq)])
                if row.kind == .job {
                    try publish.execute(binding: [
                        .text(JobRecord.State.published.rawValue), .text(stamp), .text(row.jobID),
                        .text(JobRecord.State.accepted.rawValue),
                    ])
                }
            }
            let markFailed = try db.cachedStatement(sql: Self.markFailedSQL)
            for failure in failures {
                try markFailed.execute(arguments: [failure.error, failure.seq])
            }
        }
    }

    /// Counts a failed attempt and keeps its error, in the column `AdmissionRecordsReader.lastOutboxError` reads.
    private static let markFailedSQL =
        "UPDATE \(AdmissionSchema.Outbox.table) SET attempts = attempts + 1, \(AdmissionSchema.Outbox.lastError.name) = ? "
        + "WHERE \(AdmissionSchema.Outbox.seq.name) = ?"

    private struct Failure: Sendable {
        var seq: Int64
        var error: String
    }

    /// How many rows wait to be published, and when the oldest was written.
    public func backlog() async throws -> (count: Int, oldest: Date?) {
        try await writer.read { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") ?? 0
            let oldest = try String.fetchOne(db, sql: "SELECT created_at FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT 1")
            return (count, oldest.flatMap(WireDate.parse))
        }
    }

    /// Row counts of every table.
    public func counts() async throws -> StoreCounts {
        try await writer.read { db in
            StoreCounts(
                requests: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM request_log") ?? 0,
                jobs: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM jobs") ?? 0,
                outbox: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox") ?? 0,
                unsent: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") ?? 0,
                refusals: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM contract_refusals") ?? 0,
                outcomes: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM inline_outcomes") ?? 0)
        }
    }

    /// The request log, oldest first (tests and the audit).
    public func requestLog() async throws -> [RequestLogEntry] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM request_log ORDER BY rowid").map(Self.entry(from:))
        }
    }

    /// One request log line by id.
    public func request(id: String) async throws -> RequestLogEntry? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM request_log WHERE id = ?", arguments: [id]).map(Self.entry(from:))
        }
    }

    /// One `request_log` row as a record (shared with `AdmissionRecordsReader`).
    static func entry(from row: Row) -> RequestLogEntry {
        typealias Log = AdmissionSchema.RequestLog
        let triggersText: String = row[Log.triggers]
        let triggers = (try? JSONDecoder().decode([String].self, from: Data(triggersText.utf8))) ?? []
        return RequestLogEntry(
            id: row[Log.id], origin: row[Log.origin], text: row[Log.text], hintsJSON: row[Log.hints], decision: row[Log.decision],
            forced: row[Log.forced], triggers: triggers, reason: row[Log.reason], policyVersion: row[Log.policyVersion],
            receivedAt: date(row[Log.receivedAt]) ?? Date(timeIntervalSince1970: 0),
            idempotencyKey: row[Log.idempotencyKey], jobID: row[Log.jobID], replay: row[Log.replay])
    }

    /// A cheap query proving the database answers.
    public func ping() async throws {
        _ = try await writer.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    static func outboxRow(from row: Row) -> OutboxRow {
        let kind: String = row["kind"]
        let payload: Data = row["payload"]
        return OutboxRow(
            seq: row["seq"], jobID: row["job_id"], kind: OutboxRow.Kind(rawValue: kind) ?? .job, exchange: row["exchange"],
            routingKey: row["routing_key"], payload: Array(payload), createdAt: date(row["created_at"]) ?? Date(timeIntervalSince1970: 0),
            sentAt: date(row["sent_at"]), attempts: row["attempts"], lastError: row["last_error"])
    }
}
