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

    /// The relay's marks commit without a sync (NORMAL for that group only); the next job's
    /// commit, which its 202 stands on, must find the writer FULL again, after every such group.
    @Test("after the relay's unsynced marks, the writer is back in synchronous=FULL for the next job")
    func marksLeaveTheWriterFull() async throws {
        let h = try Harness()
        defer { h.dir.cleanup() }
        let relay = h.relay(FakePublisher())
        for round in 1...3 {
            _ = try await OutboxRelayTests.detach(h, round)
            await relay.drain()
            #expect(try await h.store.counts().unsent == 0)
            #expect(try await h.store.synchronousMode() == 2, "round \(round)")
        }
    }
}
