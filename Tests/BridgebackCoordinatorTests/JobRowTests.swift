@testable import BridgebackCoordinator
import BridgebackCore
import BridgebackLedger
import GRDB
import Testing

@Suite("The jobs row: a transition writes what it changes, not the contract again")
struct JobRowTests {
    @Test("after its contract, a job's transitions write none of the contract's columns and the rest as before")
    func transitionsKeepTheContractColumns() async throws {
        let h = try Harness()
        let contract = makeContract()
        let id = contract.jobID.description
        typealias Jobs = LedgerSchema.Jobs
        // Counts every UPDATE that names a column the contract fixes (an upsert's DO UPDATE names them all).
        try await h.ledger.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE contract_writes (job_id TEXT);
                    CREATE TRIGGER count_contract_writes AFTER UPDATE OF contract_json, final_surface, delivery_mode, parent_id, deadline
                    ON jobs BEGIN INSERT INTO contract_writes VALUES (new.job_id); END
                    """)
        }
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
            _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
            #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
        }
        struct Stored: Sendable {
            var contractWrites: Int
            var state, finalOutcome, decisionJSON, finalSurface, deliveryMode: String?
            var createdAt, updatedAt: Double?
        }
        let stored = try #require(
            try await h.ledger.write { db -> Stored? in
                let writes = try Int.fetchOne(db, sql: "SELECT count(*) FROM contract_writes WHERE job_id = ?", arguments: [id]) ?? -1
                return try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE job_id = ?", arguments: [id]).map { row in
                    Stored(
                        contractWrites: writes, state: row[Jobs.state], finalOutcome: row[Jobs.finalOutcome],
                        decisionJSON: row[Jobs.decisionJSON], finalSurface: row[Jobs.finalSurface], deliveryMode: row[Jobs.deliveryMode],
                        createdAt: row[Jobs.createdAt], updatedAt: row[Jobs.updatedAt])
                }
            })
        #expect(stored.contractWrites == 0, "a transition wrote the contract's columns again")
        #expect(stored.state == "finished")
        #expect(stored.finalOutcome == "delivered")
        #expect(stored.decisionJSON != nil)
        #expect(stored.finalSurface == contract.finalSurface.rawValue)
        #expect(stored.deliveryMode == contract.deliveryMode.rawValue)
        #expect((stored.updatedAt ?? 0) > (stored.createdAt ?? .infinity))
        // And the job reads back whole.
        let wire = try WireCodec.decode(OwnershipContract.self, from: WireCodec.encode(contract))
        #expect(try await h.ledger.job(contract.jobID)?.contract == wire)
    }

    /// `load` compares a cached contract's text with the row's in place (`SQLColumns.text(_:equals:)`):
    /// a row whose text changed must be decoded again, not answered from the cache.
    @Test("a cached contract answers only while the row holds the very text it was decoded from")
    func cacheFollowsTheRow() async throws {
        let h = try Harness()
        let contract = makeContract()
        try await h.running { () async throws in
            _ = try await h.coordinator.handleContract(body(contract))
        }
        let cache = ContractCache(capacity: 16)
        var changed = try WireCodec.decode(OwnershipContract.self, from: WireCodec.encode(contract))
        changed.summary = "the same job, another summary"
        let changedJSON = String(decoding: try WireCodec.encode(changed), as: UTF8.self)
        let summaries = try await h.ledger.write { db -> [String?] in
            let first = try JobTable.load(db, contract.jobID, cache: cache)?.contract?.summary
            let cached = try JobTable.load(db, contract.jobID, cache: cache)?.contract?.summary
            try db.execute(
                sql: "UPDATE jobs SET contract_json = ? WHERE job_id = ?", arguments: [changedJSON, contract.jobID.description])
            let afterChange = try JobTable.load(db, contract.jobID, cache: cache)?.contract?.summary
            return [first, cached, afterChange, cache[contract.jobID]?.contract?.summary]
        }
        #expect(summaries == [contract.summary, contract.summary, changed.summary, changed.summary])
    }
}
