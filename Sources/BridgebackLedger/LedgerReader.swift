public import BridgebackCore
public import Foundation
import BridgebackSQLite
import GRDB

/// Why the ledger could not be read: a code to switch on and a sentence to act on.
public struct LedgerReadError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No file at the path.
        case missingLedger = "missing_ledger"
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

/// A job as the ledger holds it, for readers outside the coordinator.
public struct LedgerJobRow: Sendable, Hashable {
    public var jobID: String
    /// `JobLifecycle.State.name`: awaiting_contract, completion_parked, awaiting_completion, delivering, finished.
    public var state: String
    /// The job's contract, once it arrived.
    public var contract: OwnershipContract?
    /// The one final decision (kind, text, the completion behind it), once made.
    public var decision: JobLifecycle.FinalDecision?
    /// delivered | failed | uncertain | suppressed | undeliverable, once finished.
    public var finalOutcome: String?
    public var finalDetail: String?
    /// Completions acknowledged as duplicates (the worker ran the job more than once).
    public var duplicates: Int
}

/// One delivery part of a job's final (or fallback) notice, for readers outside the coordinator.
public struct LedgerPartRow: Sendable, Hashable {
    /// Its purpose (`final`, `fallback`) and number are part of the id.
    public var deliveryID: DeliveryID
    public var totalParts: Int
    /// Where it goes: the contract's final surface, or the work surface for a fallback.
    public var surfaceID: SurfaceID
    /// The part's `DeliveryStateMachine` state, its last failure included.
    public var state: DeliveryState
    public var updatedAt: Date
}

/// Read-only queries over the ledger file a running coordinator writes.
///
/// The query API other processes (the audit) use instead of SQL of their own: rows come back as
/// typed values decoded with the coordinator's own column formats, so a column the audit needs
/// cannot change without the audit failing to compile. It opens the file read-only, never
/// migrates and never writes; the coordinator keeps running (WAL mode) while it reads.
public struct LedgerReader: Sendable {
    private let database: ReadOnlyDatabase
    public var path: String { database.path }

    /// Opens the ledger at `path` read-only.
    public init(path: String) throws(LedgerReadError) {
        database = try ReadOnlyDatabase(
            path: path, missing: { LedgerReadError(.missingLedger, "no ledger at \(path)") },
            unopenable: { LedgerReadError(.unreadable, "cannot open the ledger \(path): \($0)") })
    }

    /// Runs `body` on one consistent snapshot of the ledger (one read transaction).
    public func read<T>(_ body: (LedgerSnapshot) throws -> T) throws(LedgerReadError) -> T {
        try database.read({ db in try body(LedgerSnapshot(db: db)) }) { [path] in
            LedgerReadError(.unreadable, "cannot read the ledger \(path): \($0)")
        }
    }
}

/// The queries of `LedgerReader`, inside one read transaction. Valid only within the `read`
/// closure that handed it out.
public struct LedgerSnapshot {
    let db: Database

    private typealias Jobs = LedgerSchema.Jobs
    private typealias Parts = LedgerSchema.Parts

    private static let jobColumns = LedgerSchema.list([
        Jobs.jobID, Jobs.state, Jobs.contractJSON, Jobs.decisionJSON, Jobs.finalOutcome, Jobs.finalDetail, Jobs.duplicates,
    ])

    /// The ledger's row for `jobID`, or nil if the coordinator never heard of the job.
    public func job(_ jobID: String) throws -> LedgerJobRow? {
        let select = try db.cachedStatement(sql: "SELECT \(Self.jobColumns) FROM \(Jobs.table) WHERE \(Jobs.jobID.name) = ?")
        return try Row.fetchOne(select, arguments: [jobID]).map(job(from:))
    }

    /// Every job the ledger holds, in job id order (admission order).
    public func allJobs() throws -> [LedgerJobRow] {
        try Row.fetchAll(db, sql: "SELECT \(Self.jobColumns) FROM \(Jobs.table) ORDER BY \(Jobs.jobID.name)").map(job(from:))
    }

    private func job(from row: Row) throws -> LedgerJobRow {
        let jobID: String = row[Jobs.jobID]
        var job = LedgerJobRow(
            jobID: jobID, state: row[Jobs.state], finalOutcome: row[Jobs.finalOutcome], finalDetail: row[Jobs.finalDetail],
            duplicates: row[Jobs.duplicates])
        if let text: String = row[Jobs.contractJSON] {
            job.contract = try decoded("the contract of \(jobID)") { try WireCodec.decode(OwnershipContract.self, from: Data(text.utf8)) }
        }
        if let text: String = row[Jobs.decisionJSON] {
            job.decision = try decoded("the final decision of \(jobID)") { try LedgerJSON.decode(StoredDecision.self, from: text).decision }
        }
        return job
    }

    /// The rows of these jobs that the ledger holds, by id.
    public func jobs(ids: Set<String>) throws -> [String: LedgerJobRow] {
        var jobs: [String: LedgerJobRow] = [:]
        for id in ids.sorted() {
            if let job = try job(id) { jobs[id] = job }
        }
        return jobs
    }

    private static let partColumns = LedgerSchema.list([
        Parts.deliveryID, Parts.totalParts, Parts.surfaceID, Parts.stateJSON, Parts.updatedAt,
    ])
    /// Final parts by number, then fallback parts by number.
    private static let partOrder = "\(Parts.purpose.name) = 'fallback', \(Parts.part.name)"

    /// The delivery parts of a job: final parts by number, then fallback parts by number.
    public func parts(of jobID: String) throws -> [LedgerPartRow] {
        let select = try db.cachedStatement(
            sql: "SELECT \(Self.partColumns) FROM \(Parts.table) WHERE \(Parts.jobID.name) = ? ORDER BY \(Self.partOrder)")
        return try Row.fetchAll(select, arguments: [jobID]).map(part(from:))
    }

    /// Every delivery part the ledger holds, by job, then as `parts(of:)` orders them.
    public func allParts() throws -> [LedgerPartRow] {
        try Row.fetchAll(db, sql: "SELECT \(Self.partColumns) FROM \(Parts.table) ORDER BY \(Parts.jobID.name), \(Self.partOrder)")
            .map(part(from:))
    }

    private func part(from row: Row) throws -> LedgerPartRow {
        let id: String = row[Parts.deliveryID]
        return try decoded("delivery part \(id)") {
            LedgerPartRow(
                deliveryID: try DeliveryID(parsing: id), totalParts: row[Parts.totalParts],
                surfaceID: try SurfaceID(validating: row[Parts.surfaceID]),
                state: try LedgerJSON.decode(DeliveryState.self, from: row[Parts.stateJSON]),
                updatedAt: Date(timeIntervalSince1970: row[Parts.updatedAt]))
        }
    }

    private func decoded<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch {
            throw LedgerReadError(.unreadable, "\(what) in the ledger does not decode: \(error)")
        }
    }
}
