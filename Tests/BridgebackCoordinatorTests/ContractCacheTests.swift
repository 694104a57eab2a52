@testable import BridgebackCoordinator
import BridgebackCore
import Testing

@Suite("ContractCache: holds the contracts of jobs in flight, not of finished ones")
struct ContractCacheTests {
    @Test("a job's entry lives from its contract until it finishes, then is dropped (memory stays flat)")
    func droppedWhenTheJobFinishes() async throws {
        let h = try Harness()
        let contracts = (0..<20).map { _ in makeContract() }
        try await h.running { () async throws in
            for contract in contracts { _ = try await h.coordinator.handleContract(body(contract)) }
            // Waiting for completions: each job's decoded contract is cached.
            #expect(h.ledger.contracts.count == contracts.count)
            for contract in contracts { _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID))) }
            for contract in contracts {
                #expect(try await eventually { try await h.ledger.outcome(contract.jobID) == "delivered" })
            }
        }
        #expect(h.ledger.contracts.count == 0, "finished jobs are still cached")
    }

    @Test("bounded: at most two generations of entries, however many jobs pass")
    func bounded() {
        let cache = ContractCache(capacity: 4)
        for _ in 0..<50 { cache.update(JobID.make()) { $0.contractJSON = "{}" } }
        #expect(cache.count <= 8)
        let id = JobID.make()
        cache.update(id) { $0.contractJSON = "{}" }
        #expect(cache[id] != nil)
        cache.remove(id)
        #expect(cache[id] == nil)
    }

    @Test("a drained backlog gives the generations' storage back (a dictionary keeps its peak capacity otherwise)")
    func storageReleasedWhenDrained() {
        let cache = ContractCache(capacity: 64)
        let ids = (0..<128).map { _ in JobID.make() }
        for id in ids { cache.update(id) { $0.contractJSON = "{}" } }
        #expect(cache.storageCapacity >= 128)
        for id in ids.dropLast() { cache.remove(id) }
        // One job still in flight: the generation holding it keeps its storage, the other gives it back.
        #expect(cache.count == 1)
        #expect(cache.storageCapacity < 128)
        cache.remove(ids.last!)
        #expect(cache.count == 0)
        #expect(cache.storageCapacity == 0)
    }
}
