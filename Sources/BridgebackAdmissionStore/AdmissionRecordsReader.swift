public import Foundation
import BridgebackSQLite
import GRDB

/// Why `admission.sqlite` could not be read: a code to switch on and a sentence to act on.
public struct AdmissionReadError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No file at the path.
        case missingDatabase = "missing_database"
        /// The file exists but could not be opened or queried (not SQLite, locked, a row that does not decode).
        case unreadable
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// Read-only queries over an `admission.sqlite` that a running admission writes.
///
/// The query API other processes (the audit) use instead of SQL of their own: rows come back as
/// the store's own record types, decoded by the same code the store uses, so a column the audit
/// needs cannot change without the audit failing to compile. It opens the file read-only, never
/// migrates and never writes; admission keeps running (WAL mode) while it reads.
public struct AdmissionRecordsReader: Sendable {
    private let database: ReadOnlyDatabase
    public var path: String { database.path }

    /// Opens the database at `path` read-only.
    public init(path: String) throws(AdmissionReadError) {
        database = try ReadOnlyDatabase(
            path: path, missing: { AdmissionReadError(.missingDatabase, "no admission database at \(path)") },
            unopenable: { AdmissionReadError(.unreadable, "cannot open the admission database \(path): \($0)") })
    }

    /// Runs `body` on one consistent snapshot of the database (one read transaction).
    public func read<T>(_ body: (AdmissionSnapshot) throws -> T) throws(AdmissionReadError) -> T {
        try database.read({ db in try body(AdmissionSnapshot(db: db)) }) { [path] in
            AdmissionReadError(.unreadable, "cannot read the admission database \(path): \($0)")
        }
    }
}

/// The queries of `AdmissionRecordsReader`, inside one read transaction. Valid only within the
/// `read` closure that handed it out.
public struct AdmissionSnapshot {
    let db: Database

    private typealias Log = AdmissionSchema.RequestLog
    private typealias Jobs = AdmissionSchema.Jobs
    private typealias Outbox = AdmissionSchema.Outbox
    private typealias Outcomes = AdmissionSchema.InlineOutcomes
    private typealias Refusals = AdmissionSchema.ContractRefusals

    /// Request-log lines received within `window`, oldest first (replays included).
    public func requests(receivedIn window: ClosedRange<Date>) throws -> [RequestLogEntry] {
        try Row.fetchAll(db, sql: "SELECT * FROM \(Log.table) ORDER BY \(Log.receivedAt.name), \(Log.id.name)").compactMap { row in
            guard let at = AdmissionStore.date(row[Log.receivedAt]), window.contains(at) else { return nil }
            return AdmissionStore.entry(from: row)
        }
    }

    /// The reported outcomes of these requests; nil when the database predates inline outcomes
    /// (migration `v2`), so a caller can tell "none reported" from "cannot be known".
    public func outcomes(requestIDs: Set<String>) throws -> [String: InlineOutcomeRecord]? {
        guard try db.tableExists(Outcomes.table) else { return nil }
        let select = try db.cachedStatement(sql: "SELECT * FROM \(Outcomes.table) WHERE \(Outcomes.requestID.name) = ?")
        var outcomes: [String: InlineOutcomeRecord] = [:]
        for id in requestIDs.sorted() {
            if let row = try Row.fetchOne(select, arguments: [id]) { outcomes[id] = AdmissionStore.outcome(from: row) }
        }
        return outcomes
    }

    /// Contracts refused within `window`, oldest first; nil when the database predates refusals (migration `v3`).
    public func refusals(in window: ClosedRange<Date>) throws -> [ContractRefusalRecord]? {
        guard try db.tableExists(Refusals.table) else { return nil }
        return try Row.fetchAll(db, sql: "SELECT * FROM \(Refusals.table) ORDER BY \(Refusals.at.name), \(Refusals.id.name)").compactMap {
            row in
            guard let at = AdmissionStore.date(row[Refusals.at]), window.contains(at) else { return nil }
            return AdmissionStore.refusal(from: row)
        }
    }

    /// The jobs with these ids that admission holds, by id.
    public func jobs(ids: Set<String>) throws -> [String: JobRecord] {
        let select = try db.cachedStatement(sql: "SELECT * FROM \(Jobs.table) WHERE \(Jobs.jobID.name) = ?")
        var jobs: [String: JobRecord] = [:]
        for id in ids.sorted() {
            if let row = try Row.fetchOne(select, arguments: [id]) { jobs[id] = try AdmissionStore.job(from: row) }
        }
        return jobs
    }

    /// A job's outbox messages in the order admission wrote them (its contract and its job), sent or not.
    public func outbox(jobID: String) throws -> [OutboxRow] {
        let select = try db.cachedStatement(
            sql: "SELECT * FROM \(Outbox.table) WHERE \(Outbox.jobID.name) = ? ORDER BY \(Outbox.seq.name)")
        return try Row.fetchAll(select, arguments: [jobID]).map(AdmissionStore.outboxRow(from:))
    }

    /// The last error the outbox relay recorded for a job (its newest failed publish), if any.
    public func lastOutboxError(jobID: String) throws -> String? {
        try String.fetchOne(
            db,
            sql: """
                SELECT \(Outbox.lastError.name) FROM \(Outbox.table) WHERE \(Outbox.jobID.name) = ? AND \(Outbox.lastError.name) IS NOT NULL
                ORDER BY \(Outbox.seq.name) DESC LIMIT 1
                """,
            arguments: [jobID])
    }
}
