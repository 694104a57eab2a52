import Foundation
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

@Suite("Admission store durability")
struct DurabilityTests {
    /// GRDB's pool sets NORMAL when it turns WAL on; an "accepted" answer must stand behind a
    /// synced commit, so the writer must end up FULL (2), not NORMAL (1).
    @Test("the writer connection commits with synchronous=FULL")
    func synchronousFull() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        #expect(try await store.synchronousMode() == 2)
    }
}
