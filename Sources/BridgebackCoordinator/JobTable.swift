import BridgebackCore
import BridgebackLedger
import Foundation
import GRDB

/// Reads and writes `jobs` rows; callers are inside a ledger transaction.
///
/// Statements are prepared once per connection (`cachedStatement`); with a `ContractCache`,
/// the contract and decision columns are decoded and encoded once per job, not per transition.
enum JobTable {
    static func load(_ db: Database, _ id: JobID, cache: ContractCache? = nil) throws -> JobRecord? {
        let select = try db.cachedStatement(sql: "SELECT * FROM jobs WHERE job_id = ?")
        guard let row = try Row.fetchOne(select, arguments: [id.description]) else {
            return nil
        }
        let job = id.description
        let name: String = row["state"]
        let duplicates: Int = row["duplicates"]
        // A finished job has no transitions left: reading it (status API, audits) must not put it
        // back into the cache that `save` dropped it from.
        let liveCache = name == "finished" ? nil : cache
        func contract() throws -> OwnershipContract {
            guard let text: String = row["contract_json"] else {
                throw CoordinatorError(.ledgerCorrupt, "job in state \(name) has no contract", jobID: job)
            }
            if let cached = liveCache?[id], cached.contractJSON == text, let contract = cached.contract { return contract }
            do {
                let contract = try WireCodec.decode(OwnershipContract.self, from: Data(text.utf8))
                liveCache?.update(id) {
                    $0.contractJSON = text; $0.contract = contract
                }
                return contract
            } catch {
                throw CoordinatorError(.ledgerCorrupt, "stored contract does not decode: \(error.message)", jobID: job)
            }
        }
        func decision() throws -> JobLifecycle.FinalDecision {
            guard let text: String = row["decision_json"] else {
                throw CoordinatorError(.ledgerCorrupt, "job in state \(name) has no final decision", jobID: job)
            }
            if let cached = liveCache?[id], cached.decisionJSON == text, let decision = cached.decision { return decision }
            let decision = try LedgerCoding.decode(StoredDecision.self, from: text, jobID: job).decision
            liveCache?.update(id) {
                $0.decisionJSON = text; $0.decision = decision
            }
            return decision
        }
        let state: JobLifecycle.State
        switch name {
        case "awaiting_contract": state = .awaitingContract
        case "completion_parked":
            guard let text: String = row["ending_json"], let parkedAt: Double = row["parked_at"] else {
                throw CoordinatorError(.ledgerCorrupt, "parked job lacks its ending", jobID: job)
            }
            let ending = try LedgerCoding.decode(StoredEnding.self, from: text, jobID: job).ending(jobID: job)
            state = .completionParked(ending, parkedAt: Date(ledgerValue: parkedAt), duplicates: duplicates)
        case "awaiting_completion": state = .awaitingCompletion(try contract())
        case "delivering": state = .delivering(try contract(), try decision(), duplicates: duplicates)
        case "finished": state = .finished(try contract(), try decision(), duplicates: duplicates)
        default: throw CoordinatorError(.ledgerCorrupt, "unknown job state '\(name)'", jobID: job)
        }
        return JobRecord(
            lifecycle: JobLifecycle(jobID: id, restoring: state),
            finalOutcome: row["final_outcome"], finalDetail: row["final_detail"],
            orphanReported: (row["orphan_reported"] as Int? ?? 0) != 0)
    }

    /// Inserts or replaces the row for `record` (one statement).
    static func save(_ db: Database, _ record: JobRecord, now: Date, cache: ContractCache? = nil) throws {
        let job = record.jobID.description
        let cached = cache?[record.jobID]
        var contractJSON: String?
        var endingJSON: String?
        var parkedAt: Double?
        var decisionJSON: String?
        switch record.lifecycle.state {
        case .awaitingContract: break
        case .completionParked(let ending, let at, _):
            endingJSON = try LedgerCoding.encode(StoredEnding(ending))
            parkedAt = at.ledgerValue
        case .awaitingCompletion: break
        case .delivering(_, let decision, _), .finished(_, let decision, _):
            if let cached, cached.decision == decision, let text = cached.decisionJSON {
                decisionJSON = text
            } else {
                let text = try LedgerCoding.encode(StoredDecision(decision))
                cache?.update(record.jobID) {
                    $0.decisionJSON = text; $0.decision = decision
                }
                decisionJSON = text
            }
        }
        if let contract = record.contract {
            if let cached, cached.contract == contract, let text = cached.contractJSON {
                contractJSON = text
            } else {
                let text = String(decoding: try WireCodec.encode(contract), as: UTF8.self)
                cache?.update(record.jobID) {
                    $0.contractJSON = text; $0.contract = contract
                }
                contractJSON = text
            }
        }
        let contract = record.contract
        let upsert = try db.cachedStatement(
            sql: """
                INSERT INTO jobs (job_id, state, contract_json, final_surface, delivery_mode, parent_id, deadline,
                    ending_json, parked_at, decision_json, duplicates, orphan_reported, final_outcome, final_detail,
                    created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(job_id) DO UPDATE SET
                    state = excluded.state, contract_json = excluded.contract_json,
                    final_surface = excluded.final_surface, delivery_mode = excluded.delivery_mode,
                    parent_id = excluded.parent_id, deadline = excluded.deadline,
                    ending_json = excluded.ending_json, parked_at = excluded.parked_at,
                    decision_json = excluded.decision_json, duplicates = excluded.duplicates,
                    orphan_reported = excluded.orphan_reported, final_outcome = excluded.final_outcome,
                    final_detail = excluded.final_detail, updated_at = excluded.updated_at
                """)
        try upsert.execute(
            arguments: [
                job, record.lifecycle.state.name, contractJSON, contract?.finalSurface.rawValue,
                contract?.deliveryMode.rawValue, contract?.parentID, contract?.deadline.ledgerValue,
                endingJSON, parkedAt, decisionJSON, record.duplicates, record.orphanReported ? 1 : 0,
                record.finalOutcome, record.finalDetail, now.ledgerValue, now.ledgerValue,
            ])
        // A finished job has no transitions left: keeping its entry would only hold memory
        // (up to two generations of finished jobs, tens of MiB) until it ages out.
        if case .finished = record.lifecycle.state { cache?.remove(record.jobID) }
    }

    /// Jobs still waiting for a completion whose deadline + grace has passed.
    static func overdue(_ db: Database, now: Date, grace: TimeInterval) throws -> [JobID] {
        try String.fetchAll(
            db, sql: "SELECT job_id FROM jobs WHERE state = 'awaiting_completion' AND deadline <= ? ORDER BY deadline",
            arguments: [now.ledgerValue - grace]
        ).compactMap { JobID($0) }
    }

    /// Parked endings that have waited `orphanAfter` for their contract and were not yet reported.
    static func orphans(_ db: Database, now: Date, orphanAfter: TimeInterval) throws -> [JobID] {
        try String.fetchAll(
            db, sql: "SELECT job_id FROM jobs WHERE state = 'completion_parked' AND orphan_reported = 0 AND parked_at <= ?",
            arguments: [now.ledgerValue - orphanAfter]
        ).compactMap { JobID($0) }
    }
}
