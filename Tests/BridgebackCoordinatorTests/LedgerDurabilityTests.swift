@testable import BridgebackCoordinator
import Foundation
import Synchronization
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

    /// A commit made without a sync is not reported durable until a synced commit covers it:
    /// another writer's (the usual case), or the ledger's own after `syncDelay`. The writer is
    /// back in FULL after it.
    @Test("an unsynced commit is durable only once a synced commit covers it: a writer's, or the ledger's own")
    func unsyncedCommitsWaitForASync() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ledger-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let ledger = try Ledger(path: path)

        // Covered by the next synced write.
        let first = try await ledger.commit(durable: false) { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = 100") }
        #expect(ledger.syncedGeneration < first.generation)
        #expect(try await ledger.synchronousMode() == 2)
        try await ledger.write { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = syncs + 1") }
        #expect(ledger.syncedGeneration > first.generation)
        try await ledger.awaitDurable(first.generation)  // already covered: returns at once

        // No synced write comes: the ledger syncs on its own, a sync of the WAL and no write.
        let second = try await ledger.commit(durable: false) { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = 200") }
        #expect(ledger.syncedGeneration < second.generation)
        try await ledger.awaitDurable(second.generation)
        #expect(ledger.syncedGeneration > second.generation)
        #expect(try await ledger.read { db in try Int.fetchOne(db, sql: "SELECT syncs FROM ledger_sync") } == 200)
        #expect(try await ledger.synchronousMode() == 2)

        // `now`: synced at once, without waiting for the delay.
        let third = try await ledger.commit(durable: false) { db in try db.execute(sql: "UPDATE ledger_sync SET syncs = 300") }
        try await ledger.awaitDurable(third.generation, now: true)
        #expect(ledger.syncedGeneration > third.generation)
    }

    /// The ledger's own sync waits `syncDelay` from each commit's start of waiting, not from
    /// when its sync loop began: a commit that began waiting a moment ago (a contract whose
    /// completion is about to be synced) gets no sync of its own in front of that completion.
    /// Bounds from below only, so a slow machine cannot fail it. About 0.4 s.
    @Test("the ledger syncs on its own only once an unsynced commit has itself waited syncDelay")
    func ownSyncCountsFromEachWaiter() async throws {
        let delay = Duration.milliseconds(200)
        let tracker = DurabilityTracker(syncDelay: delay)
        let syncs = Mutex<[ContinuousClock.Instant]>([])
        let sync: @Sendable () async throws -> Void = {
            syncs.withLock { $0.append(.now) }
            _ = tracker.committed(synced: true)
        }
        let first = tracker.committed(synced: false)
        async let firstDurable: Void = tracker.wait(for: first, sync: sync)
        // A writer's synced commit covers the first as soon as it waits (and its wait started the
        // sync loop), not after a fixed sleep: a 50 ms sleep that overshot `delay` on a loaded
        // machine let the loop sync for the first, two syncs.
        while tracker.waiting == 0 { try await Task.sleep(for: .milliseconds(1)) }
        _ = tracker.committed(synced: true)
        try await firstDurable
        try await Task.sleep(for: .milliseconds(100))
        let second = tracker.committed(synced: false)
        let secondStart = ContinuousClock.now
        try await tracker.wait(for: second, sync: sync)
        let times = syncs.withLock { $0 }
        #expect(times.count == 1)
        #expect(times.allSatisfy { $0 - secondStart >= delay })
    }

    /// A change that throws undoes its own writes and nothing else, whether it is alone in its
    /// transaction (an idle ledger: no savepoint, the transaction rolls back) or shares it.
    @Test("a change that throws undoes its own writes, alone in its transaction or sharing it")
    func aFailingChangeUndoesOnlyItself() async throws {
        struct Refused: Error {}
        let ledger = try Ledger.inMemory()
        func syncs() async throws -> Int {
            try await ledger.read { db in try Int.fetchOne(db, sql: "SELECT syncs FROM ledger_sync") ?? -1 }
        }
        let before = try await syncs()
        await #expect(throws: Refused.self) {
            try await ledger.write { db in
                try db.execute(sql: "UPDATE ledger_sync SET syncs = syncs + 1000")
                throw Refused()
            }
        }
        #expect(try await syncs() == before)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<6 {
                group.addTask {
                    do {
                        try await ledger.write { db in
                            try db.execute(sql: "UPDATE ledger_sync SET syncs = syncs + \(index % 2 == 0 ? 1 : 1000)")
                            if index % 2 == 1 { throw Refused() }
                        }
                        return true
                    } catch is Refused { return false }
                }
            }
            var committed = 0
            for try await ok in group where ok { committed += 1 }
            #expect(committed == 3)
        }
        #expect(try await syncs() == before + 3)
    }
}
