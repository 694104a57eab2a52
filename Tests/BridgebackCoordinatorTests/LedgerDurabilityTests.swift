@testable import BridgebackCoordinator
import Foundation
import Testing

@Suite("Ledger durability")
struct LedgerDurabilityTests {
    /// GRDB's pool sets NORMAL when it turns WAL on; every transition stands behind an ack or a
    /// send, so the writer must end up FULL (2), not NORMAL (1), also when the file already exists.
    @Test("the ledger's writer commits with synchronous=FULL, on a new file and on reopening it")
    func synchronousFull() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        #expect(try await Ledger(path: path).synchronousMode() == 2)
        #expect(try await Ledger(path: path).synchronousMode() == 2)
    }
}
