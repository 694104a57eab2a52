import BridgebackCore
import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// Concurrent writes share one transaction, each in its own savepoint (prepared once per
/// connection): a change that fails undoes only its own writes; the others commit.
@Suite("Admission store: a failing change in a group undoes only itself")
struct GroupSavepointTests {
    @Test("40 concurrent admits, every other one a duplicate job id: the duplicates fail alone, nothing of theirs is written")
    func duplicatesFailAlone() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        let base = OwnershipContract(
            jobID: JobID(milliseconds: 1, randomHigh: 1, randomLow: 1), origin: "cli:alice", workSurface: "work:alice",
            finalSurface: "cli:alice", deliveryMode: .parent, deadline: Date(timeIntervalSince1970: 1_765_003_600), policyVersion: "p",
            summary: "s", requestExcerpt: "t", parentID: "parent", recipe: RecipeInvocation(name: "noop"),
            createdAt: Date(timeIntervalSince1970: 1_765_000_000))
        let results = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    var contract = base
                    // Pairs share a job id: of each pair exactly one insert can succeed.
                    contract.jobID = JobID(milliseconds: 1_765_000_000_000 + UInt64(index / 2), randomHigh: 1, randomLow: 1)
                    let entry = RequestLogEntry(id: "req_\(index)", origin: "cli:alice", text: "t", decision: "detach", receivedAt: Date())
                    let draft = OutboxDraft(kind: .contract, exchange: "bb.contracts", routingKey: "contract", payload: [UInt8]("{}".utf8))
                    do {
                        _ = try await store.admit(request: entry, contract: contract, outbox: [draft])
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results.filter { $0 }.count == 20)
        let counts = try await store.counts()
        // Only the winners' request lines and outbox rows: each loser's savepoint was rolled back.
        #expect(counts == StoreCounts(requests: 20, jobs: 20, outbox: 20, unsent: 20))
        #expect(Set(try await store.requestLog().compactMap(\.jobID)).count == 20)
    }
}
