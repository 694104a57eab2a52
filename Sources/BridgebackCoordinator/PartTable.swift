import BridgebackCore
import Foundation
import GRDB
import BridgebackLedger
import BridgebackSQLite

/// Reads and writes `delivery_parts` rows; callers are inside a ledger transaction.
enum PartTable {
    /// The ledger's column names (`BridgebackLedger`), shared with `LedgerReader`.
    private typealias Parts = LedgerSchema.Parts

    /// The columns a new part is inserted with (the failure and next-attempt ones start NULL).
    private static let insertColumns = [
        Parts.deliveryID, Parts.jobID, Parts.purpose, Parts.part, Parts.totalParts, Parts.surfaceID, Parts.receiverDeduplicates,
        Parts.body, Parts.state, Parts.stateJSON, Parts.attempts, Parts.createdAt, Parts.updatedAt,
    ]
    private static let insertSQL =
        "INSERT INTO \(Parts.table) (\(LedgerSchema.list(insertColumns))) VALUES (\(LedgerSchema.placeholders(insertColumns)))"
    private static let partsSQL =
        "SELECT * FROM \(Parts.table) WHERE \(Parts.jobID.name) = ? ORDER BY \(Parts.purpose.name) = 'fallback', \(Parts.part.name)"
    private static let outcomesSQL =
        "SELECT \(Parts.purpose.name), \(Parts.state.name) FROM \(Parts.table) WHERE \(Parts.jobID.name) = ?"
    private static let hasFallbackSQL =
        "SELECT EXISTS (SELECT 1 FROM \(Parts.table) WHERE \(Parts.jobID.name) = ? AND \(Parts.purpose.name) = 'fallback')"
    /// A new part's state column, the same for every part: encoded once per process.
    private static let pendingStateJSON = Result { try LedgerCoding.encode(DeliveryState.pending(attempts: 0)) }
    private static let updateColumns = [
        Parts.state, Parts.stateJSON, Parts.attempts, Parts.failureKind, Parts.failureDetail, Parts.nextAttemptAt, Parts.updatedAt,
    ]
    private static let updateSQL =
        "UPDATE \(Parts.table) SET \(updateColumns.map { "\($0.name) = ?" }.joined(separator: ", ")) WHERE \(Parts.deliveryID.name) = ?"

    /// Inserts one `pending` row per planned notice. The body is encoded once, here, so every
    /// attempt (also after a restart) sends the same bytes under the same delivery id.
    /// - Returns: the rows as written, in notice order.
    @discardableResult
    static func insert(_ db: Database, notices: [FinalNotice], surface: Surface, deduplicates: Bool, now: Date) throws -> [PartRecord] {
        var written: [PartRecord] = []
        let state = DeliveryState.pending(attempts: 0)
        let stateJSON = try Self.pendingStateJSON.get()
        for notice in notices {
            let body = try WireCodec.encode(notice)
            // The arguments in `insertColumns`' order.
            let insert = try db.cachedStatement(sql: Self.insertSQL)
            try insert.execute(binding: [
                .text(notice.deliveryID.description), .text(notice.jobID.description), .text(notice.deliveryID.purpose.rawValue),
                .integer(notice.part), .integer(notice.totalParts), .text(surface.id.rawValue), .bool(deduplicates), .blob(body),
                .text(state.name), .text(stateJSON), .integer(0), .real(now.ledgerValue), .real(now.ledgerValue),
            ])
            written.append(
                PartRecord(
                    deliveryID: notice.deliveryID, totalParts: notice.totalParts, surfaceID: surface.id, receiverDeduplicates: deduplicates,
                    state: state, body: Array(body), updatedAt: Date(ledgerValue: now.ledgerValue)))
        }
        return written
    }

    /// Each part's purpose and outcome (nil while open), from the `state` column alone.
    static func outcomes(_ db: Database, job: JobID) throws -> [(purpose: DeliveryID.Purpose, outcome: DeliveryOutcome?)] {
        let select = try db.cachedStatement(sql: Self.outcomesSQL)
        try select.bind([.text(job.description)])
        return try Row.fetchAll(select).map { row in
            let purpose: String = row[0]
            let state: String = row[1]
            guard let known = DeliveryID.Purpose(rawValue: purpose) else {
                throw CoordinatorError(.ledgerCorrupt, "part of job \(job) has unknown purpose '\(purpose)'", jobID: job.description)
            }
            return (known, DeliveryOutcome(rawValue: state))
        }
    }

    /// All parts of a job: final parts by number, then fallback parts by number.
    static func parts(_ db: Database, job: JobID) throws -> [PartRecord] {
        let select = try db.cachedStatement(sql: Self.partsSQL)
        try select.bind([.text(job.description)])
        return try Row.fetchAll(select).map { try record($0) }
    }

    static func hasFallback(_ db: Database, job: JobID) throws -> Bool {
        try Bool.fetchOne(
            db, sql: Self.hasFallbackSQL,
            arguments: [job.description]) ?? false
    }

    /// Records a part's new state (the caller's transaction makes it one step).
    static func update(_ db: Database, _ id: DeliveryID, to state: DeliveryState, now: Date) throws {
        var nextAttempt: Double?
        if case .retryWait(_, let at, _) = state { nextAttempt = at.ledgerValue }
        // The arguments in `updateColumns`' order, then the id.
        let update = try db.cachedStatement(sql: Self.updateSQL)
        try update.execute(binding: [
            .text(state.name), .text(try LedgerCoding.encode(state)), .integer(state.attempts), .orNull(state.lastFailure?.kind.name),
            .orNull(state.lastFailure?.detail), .orNull(nextAttempt), .real(now.ledgerValue), .text(id.description),
        ])
        guard db.changesCount == 1 else {
            throw CoordinatorError(.ledgerCorrupt, "delivery part \(id) is not in the ledger", jobID: id.job.description)
        }
    }

    private static func record(_ row: Row) throws -> PartRecord {
        let idText: String = row[Parts.deliveryID]
        let job: String = row[Parts.jobID]
        let deliveryID: DeliveryID
        let surfaceID: SurfaceID
        do {
            deliveryID = try DeliveryID(parsing: idText)
            surfaceID = try SurfaceID(validating: row[Parts.surfaceID])
        } catch {
            throw CoordinatorError(.ledgerCorrupt, "part row \(idText): \(error.message)", jobID: job)
        }
        return PartRecord(
            deliveryID: deliveryID, totalParts: row[Parts.totalParts], surfaceID: surfaceID,
            receiverDeduplicates: (row[Parts.receiverDeduplicates] as Int) != 0,
            state: try LedgerCoding.decode(DeliveryState.self, from: row[Parts.stateJSON], jobID: job),
            body: Array(row[Parts.body] as Data), updatedAt: Date(ledgerValue: row[Parts.updatedAt]))
    }
}
