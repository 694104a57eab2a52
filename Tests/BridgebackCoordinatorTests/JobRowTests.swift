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

    /// A pass runs its events in one savepoint, and again each in its own when one is refused
    /// (`Coordinator.apply`): the refused event must undo only its own writes, and every other
    /// event must count once.
    @Test("a pass with a conflicting contract among others: it alone is refused, the others are recorded once")
    func aRefusedEventInAPassUndoesOnlyItself() async throws {
        let h = try Harness()
        let first = makeContract(), second = makeContract(), third = makeContract()
        var conflicting = try WireCodec.decode(OwnershipContract.self, from: WireCodec.encode(first))
        conflicting.finalSurface = "work:alice"
        var dispositions: [Disposition] = []
        try await h.running { () async throws in
            dispositions = try await h.coordinator.handle([
                // The completion before the refused contract: a first run whose writes were not
                // undone would count it twice (a duplicate, never delivered).
                .contract(try body(first)), .contract(try body(second)),
                .completion(try body(makeCompletion(second.jobID)), publishedBy: nil), .contract(try body(conflicting)),
                .contract(try body(third)),
            ])
            // The completion in the same pass decided one notice for its job, delivered once.
            #expect(try await eventually { try await h.ledger.outcome(second.jobID) == "delivered" })
        }
        #expect(dispositions.count == 5)
        #expect(dispositions[0] == .ack && dispositions[1] == .ack && dispositions[2] == .ack && dispositions[4] == .ack)
        if case .reject = dispositions[3] {} else { Issue.record("the conflicting contract was not refused: \(dispositions[3])") }
        #expect(try await h.ledger.job(first.jobID)?.contract?.finalSurface == first.finalSurface)
        #expect(try await h.ledger.job(third.jobID)?.contract != nil)
        let (parts, duplicates) = try await h.ledger.write { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM delivery_parts WHERE job_id = ?", arguments: [second.jobID.description]),
                try Int.fetchOne(db, sql: "SELECT duplicates FROM jobs WHERE job_id = ?", arguments: [second.jobID.description])
            )
        }
        #expect(parts == 1)
        // A first run left in place would have made the completion's second run a duplicate.
        #expect(duplicates == 0)
    }
}
