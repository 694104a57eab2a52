import BridgebackCore
import Foundation
import GRDB

/// Reads and writes `delivery_parts` rows; callers are inside a ledger transaction.
enum PartTable {
    /// Inserts one `pending` row per planned notice. The body is encoded once, here, so every
    /// attempt (also after a restart) sends the same bytes under the same delivery id.
    static func insert(_ db: Database, notices: [FinalNotice], surface: Surface, deduplicates: Bool, now: Date) throws {
        for notice in notices {
            let body = try WireCodec.encode(notice)
            let state = DeliveryState.pending(attempts: 0)
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO delivery_parts (delivery_id, job_id, purpose, part, total_parts, surface_id,
                        receiver_deduplicates, body, state, state_json, attempts, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            try insert.execute(
                arguments: [
                    notice.deliveryID.description, notice.jobID.description, notice.deliveryID.purpose.rawValue,
                    notice.part, notice.totalParts, surface.id.rawValue, deduplicates ? 1 : 0, body,
                    state.name, try LedgerCoding.encode(state), 0, now.ledgerValue, now.ledgerValue,
                ])
        }
    }

    /// All parts of a job: final parts by number, then fallback parts by number.
    static func parts(_ db: Database, job: JobID) throws -> [PartRecord] {
        let select = try db.cachedStatement(sql: "SELECT * FROM delivery_parts WHERE job_id = ? ORDER BY purpose = 'fallback', part")
        return try Row.fetchAll(select, arguments: [job.description]).map { try record($0) }
    }

    static func hasFallback(_ db: Database, job: JobID) throws -> Bool {
        try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM delivery_parts WHERE job_id = ? AND purpose = 'fallback')",
            arguments: [job.description]) ?? false
    }

    /// Records a part's new state (the caller's transaction makes it one step).
    static func update(_ db: Database, _ id: DeliveryID, to state: DeliveryState, now: Date) throws {
        var nextAttempt: Double?
        if case .retryWait(_, let at, _) = state { nextAttempt = at.ledgerValue }
        let update = try db.cachedStatement(
            sql: """
                UPDATE delivery_parts SET state = ?, state_json = ?, attempts = ?, failure_kind = ?, failure_detail = ?,
                    next_attempt_at = ?, updated_at = ? WHERE delivery_id = ?
                """)
        try update.execute(
            arguments: [
                state.name, try LedgerCoding.encode(state), state.attempts, state.lastFailure?.kind.name,
                state.lastFailure?.detail, nextAttempt, now.ledgerValue, id.description,
            ])
        guard db.changesCount == 1 else {
            throw CoordinatorError(.ledgerCorrupt, "delivery part \(id) is not in the ledger", jobID: id.job.description)
        }
    }

    private static func record(_ row: Row) throws -> PartRecord {
        let idText: String = row["delivery_id"]
        let job: String = row["job_id"]
        let deliveryID: DeliveryID
        let surfaceID: SurfaceID
        do {
            deliveryID = try DeliveryID(parsing: idText)
            surfaceID = try SurfaceID(validating: row["surface_id"])
        } catch {
            throw CoordinatorError(.ledgerCorrupt, "part row \(idText): \(error.message)", jobID: job)
        }
        return PartRecord(
            deliveryID: deliveryID, totalParts: row["total_parts"], surfaceID: surfaceID,
            receiverDeduplicates: (row["receiver_deduplicates"] as Int) != 0,
            state: try LedgerCoding.decode(DeliveryState.self, from: row["state_json"], jobID: job),
            body: Array(row["body"] as Data), updatedAt: Date(ledgerValue: row["updated_at"]))
    }
}
