import BridgebackCore
import BridgebackLedger
import BridgebackSQLite
import Foundation
import GRDB

/// Reads and writes `jobs` rows; callers are inside a ledger transaction.
///
/// Statements are prepared once per connection (`cachedStatement`); with a `ContractCache`,
/// the contract and decision columns are decoded and encoded once per job, not per transition.
enum JobTable {
    /// The ledger's column names (`BridgebackLedger`), shared with `LedgerReader`.
    private typealias Jobs = LedgerSchema.Jobs

    /// The columns `load` reads, in the order of `Loaded`'s positions.
    private static let loaded: [Column] = [
        Jobs.state, Jobs.contractJSON, Jobs.endingJSON, Jobs.parkedAt, Jobs.decisionJSON, Jobs.duplicates, Jobs.orphanReported,
        Jobs.finalOutcome, Jobs.finalDetail,
    ]
    /// Where each of `loaded` sits in a loaded row: read by position, since GRDB lowercases a
    /// column's name and searches the row's names on every lookup by name (three loads per job).
    private enum Loaded {
        static let state = 0, contractJSON = 1, endingJSON = 2, parkedAt = 3, decisionJSON = 4, duplicates = 5
        static let orphanReported = 6, finalOutcome = 7, finalDetail = 8
    }
    /// Built once: the statement cache is keyed by the SQL text.
    private static let selectSQL = "SELECT \(LedgerSchema.list(loaded)) FROM \(Jobs.table) WHERE \(Jobs.jobID.name) = ?"
    /// Every column on insert; every one but the id and the creation time on conflict.
    private static let upsertSQL: String = {
        let updated = Jobs.all.filter { $0.name != Jobs.jobID.name && $0.name != Jobs.createdAt.name }
        return """
            INSERT INTO \(Jobs.table) (\(LedgerSchema.list(Jobs.all))) VALUES (\(LedgerSchema.placeholders(Jobs.all)))
            ON CONFLICT(\(Jobs.jobID.name)) DO UPDATE SET \(updated.map { "\($0.name) = excluded.\($0.name)" }.joined(separator: ", "))
            """
    }()

    /// A transition of a stored job whose contract did not change: the columns a transition can
    /// change, and nothing the contract fixes (its JSON, surface, mode, parent, deadline).
    private static let updateSQL: String = {
        let changed = [
            Jobs.state, Jobs.endingJSON, Jobs.parkedAt, Jobs.decisionJSON, Jobs.duplicates, Jobs.orphanReported, Jobs.finalOutcome,
            Jobs.finalDetail, Jobs.updatedAt,
        ]
        return """
            UPDATE \(Jobs.table) SET \(changed.map { "\($0.name) = ?" }.joined(separator: ", ")) WHERE \(Jobs.jobID.name) = ?
            """
    }()

    static func load(_ db: Database, _ id: JobID, cache: ContractCache? = nil) throws -> JobRecord? {
        let select = try db.cachedStatement(sql: Self.selectSQL)
        let job = id.description
        try select.bind([.text(job)])
        // Read in place (`SQLColumns`): no row copy, and a cached contract or decision is compared
        // with the stored text without making a string of it.
        return try select.readFirstRow { row in try record(row, id: id, job: job, cache: cache) }
    }

    private static func record(_ row: SQLColumns, id: JobID, job: String, cache: ContractCache?) throws -> JobRecord {
        func corrupt(_ error: DatabaseError) -> CoordinatorError {
            CoordinatorError(.ledgerCorrupt, "job row: \(error.message ?? "a column cannot be read")", jobID: job)
        }
        func text(_ index: Int) throws -> String? {
            do { return try row.text(index) } catch { throw corrupt(error) }
        }
        func integer(_ index: Int) throws -> Int? {
            do { return try row.integer(index).map { Int(truncatingIfNeeded: $0) } } catch { throw corrupt(error) }
        }
        guard let name = try text(Loaded.state) else {
            throw CoordinatorError(.ledgerCorrupt, "job row has no state", jobID: job)
        }
        guard let duplicates = try integer(Loaded.duplicates) else {
            throw CoordinatorError(.ledgerCorrupt, "job row has no duplicate count", jobID: job)
        }
        // A finished job has no transitions left: reading it (status API, audits) must not put it
        // back into the cache that `save` dropped it from.
        let liveCache = name == "finished" ? nil : cache
        let cached = liveCache?[id]
        func contract() throws -> OwnershipContract {
            if let cached, let known = cached.contractJSON, let contract = cached.contract, row.text(Loaded.contractJSON, equals: known) {
                return contract
            }
            guard let text = try text(Loaded.contractJSON) else {
                throw CoordinatorError(.ledgerCorrupt, "job in state \(name) has no contract", jobID: job)
            }
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
            if let cached, let known = cached.decisionJSON, let decision = cached.decision, row.text(Loaded.decisionJSON, equals: known) {
                return decision
            }
            guard let text = try text(Loaded.decisionJSON) else {
                throw CoordinatorError(.ledgerCorrupt, "job in state \(name) has no final decision", jobID: job)
            }
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
            let parkedAt: Double?
            do { parkedAt = try row.real(Loaded.parkedAt) } catch { throw corrupt(error) }
            guard let text = try text(Loaded.endingJSON), let parkedAt else {
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
            lifecycle: JobLifecycle(jobID: id, restoring: state), finalOutcome: try text(Loaded.finalOutcome),
            finalDetail: try text(Loaded.finalDetail), orphanReported: (try integer(Loaded.orphanReported) ?? 0) != 0)
    }

    /// Inserts or replaces the row for `record` (one statement). `stored` is the record as `load`
    /// read it in the same transaction (nil for a new job): when it already held the same contract,
    /// only the columns a transition changes are written, not the contract's JSON and the columns
    /// taken from it again (most of a row's bytes; a job's second and third transitions).
    static func save(_ db: Database, _ record: JobRecord, stored: JobRecord?, now: Date, cache: ContractCache? = nil) throws {
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
        if let contract = record.contract, let storedContract = stored?.contract, storedContract == contract {
            let update = try db.cachedStatement(sql: Self.updateSQL)
            try update.execute(binding: [
                .text(record.lifecycle.state.name), .orNull(endingJSON), .orNull(parkedAt), .orNull(decisionJSON),
                .integer(record.duplicates), .bool(record.orphanReported), .orNull(record.finalOutcome), .orNull(record.finalDetail),
                .real(now.ledgerValue), .text(job),
            ])
            if db.changesCount == 1 {
                if case .finished = record.lifecycle.state { cache?.remove(record.jobID) }
                return
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
        // The arguments in `Jobs.all`'s order.
        let upsert = try db.cachedStatement(sql: Self.upsertSQL)
        try upsert.execute(binding: [
            .text(job), .text(record.lifecycle.state.name), .orNull(contractJSON), .orNull(contract?.finalSurface.rawValue),
            .orNull(contract?.deliveryMode.rawValue), .orNull(contract?.parentID), .orNull(contract?.deadline.ledgerValue),
            .orNull(endingJSON), .orNull(parkedAt), .orNull(decisionJSON), .integer(record.duplicates), .bool(record.orphanReported),
            .orNull(record.finalOutcome), .orNull(record.finalDetail), .real(now.ledgerValue), .real(now.ledgerValue),
        ])
        // A finished job has no transitions left: keeping its entry would only hold memory
        // (up to two generations of finished jobs, tens of MiB) until it ages out.
        if case .finished = record.lifecycle.state { cache?.remove(record.jobID) }
    }

    /// Jobs still waiting for a completion whose deadline + grace has passed.
    static func overdue(_ db: Database, now: Date, grace: TimeInterval) throws -> [JobID] {
        try String.fetchAll(
            db,
            sql: """
                SELECT \(Jobs.jobID.name) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'awaiting_completion' \
                AND \(Jobs.deadline.name) <= ? ORDER BY \(Jobs.deadline.name)
                """,
            arguments: [now.ledgerValue - grace]
        ).compactMap { JobID($0) }
    }

    /// Parked endings that have waited `orphanAfter` for their contract and were not yet reported.
    static func orphans(_ db: Database, now: Date, orphanAfter: TimeInterval) throws -> [JobID] {
        try String.fetchAll(
            db,
            sql: """
                SELECT \(Jobs.jobID.name) FROM \(Jobs.table) WHERE \(Jobs.state.name) = 'completion_parked' \
                AND \(Jobs.orphanReported.name) = 0 AND \(Jobs.parkedAt.name) <= ?
                """,
            arguments: [now.ledgerValue - orphanAfter]
        ).compactMap { JobID($0) }
    }
}
