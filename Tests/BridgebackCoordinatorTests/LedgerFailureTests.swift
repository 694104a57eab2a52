@testable import BridgebackCoordinator
import BridgebackCore
import Foundation
import Testing

@Suite("A ledger that cannot be written stops the coordinator")
struct LedgerFailureTests {
    @Test("a ledger write that fails while delivering ends run() with ledger_unavailable, instead of logging and going on")
    func deliveryWriteFailureStops() async throws {
        let holder = LedgerBox()
        let http = FakeHTTPClient { _, _ in
            // The receiver accepts; meanwhile the ledger loses its parts table (a damaged file).
            try? await holder.ledger?.write { db in try db.execute(sql: "DROP TABLE delivery_parts") }
            return .response(status: 200, headers: [:])
        }
        let h = try Harness(http: http)
        holder.ledger = h.ledger
        let contract = makeContract(final: "hooks:a", mode: .direct)
        _ = try await h.coordinator.handleContract(body(contract))
        _ = try await h.coordinator.handleCompletion(body(makeCompletion(contract.jobID)))
        let coordinator = h.coordinator
        let outcome = await withTaskGroup(of: String.self) { group in
            group.addTask {
                do {
                    try await coordinator.run()
                    return "returned"
                } catch let error as CoordinatorError {
                    return error.code.description
                } catch {
                    return "other: \(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return "still running after 20 s"
            }
            let first = await group.next() ?? "none"
            group.cancelAll()
            return first
        }
        #expect(outcome == "ledger_unavailable")
        #expect(http.requests.count == 1)
    }
}

/// Lets the fake receiver reach the ledger created after it.
final class LedgerBox: @unchecked Sendable {
    // @unchecked: written once by the test before the coordinator runs (the task that runs it
    // is created after the write), read afterwards only.
    var ledger: Ledger?
}
