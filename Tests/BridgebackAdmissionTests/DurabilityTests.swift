import BridgebackSQLite
import Foundation
import GRDB
import Synchronization
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

    /// The sync is what makes a 202 honest; since the relay is handed a detach's rows before it, the
    /// job is published while the WAL syncs, and the detach must still wait for the sync.
    @Test("a detach's job is published while its commit syncs, and the detach is answered only after the sync")
    func publishOverlapsTheSync() async throws {
        let gate = SyncGate()
        let h = try Harness(walSync: gate.sync)
        defer {
            gate.open()
            h.dir.cleanup()
        }
        let fake = FakePublisher()
        let relay = h.relay(fake)
        let answered = Mutex(false)
        let detach = Task {
            let ids = try await OutboxRelayTests.detach(h, 1)
            answered.withLock { $0 = true }
            return ids
        }
        try await waitUntil { gate.entered == 1 }
        // The commit is written, its sync held: the relay publishes contract and job now.
        let drain = Task { await relay.drain() }
        try await waitUntil { fake.published.count == 2 }
        #expect(!answered.withLock { $0 }, "answered before the sync")
        gate.open()
        let ids = try await detach.value
        await drain.value
        #expect(fake.published.map(\.properties.messageID) == [ids[0], ids[0]])
        #expect(try await h.store.counts().unsent == 0)
        // One sync: the detach's. The relay's marks are not synced (a lost mark only publishes again).
        #expect(gate.entered == 1)
    }

    @Test("a detach whose sync fails is not answered accepted, says the job may still run, and a retry after a restart gets that job")
    func failedSyncIsNotAccepted() async throws {
        let h = try Harness(walSync: { _ in throw DatabaseError(resultCode: .SQLITE_IOERR_FSYNC, message: "injected") })
        defer { h.dir.cleanup() }
        let response = await h.submit(#"{"origin": "cli:alice", "text": "Audit it", "force": "detach", "idempotency_key": "k1"}"#)
        #expect(response.status == 503)
        let message = response.errorMessage ?? ""
        #expect(message.contains("could not confirm the request is on disk"), "\(message)")
        #expect(message.contains("may still run"), "\(message)")
        // Committed though not synced: the job is there, and its rows are with the relay.
        #expect(try await h.store.counts().unsent == 2)
        // As after a crash between the commit and the sync: a new store on the same file (a
        // restarted admission) has the job and its unsent rows, and a retry with the same key
        // gets that job, not a second one.
        let restarted = try Harness(dir: h.dir)
        #expect(try await restarted.store.counts().unsent == 2)
        let retry = await restarted.submit(#"{"origin": "cli:alice", "text": "Audit it", "force": "detach", "idempotency_key": "k1"}"#)
        #expect(retry.status == 202, "\(retry.status)")
        #expect(retry["idempotent_replay"] == .bool(true))
        let counts = try await restarted.store.counts()
        #expect(counts.jobs == 1 && counts.unsent == 2)
    }

    @Test("WALSync syncs a WAL database's log, and says so when a connection has no log to sync")
    func walSyncNeedsALog() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let pool = try DatabasePool(path: dir.url.appendingPathComponent("w.sqlite").path)
        try pool.write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        try pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "INSERT INTO t VALUES (1)")
            try WALSync.sync(db)
        }
        let memory = try DatabaseQueue()
        #expect {
            try memory.inDatabase { db in try WALSync.sync(db) }
        } throws: { error in
            (error as? DatabaseError)?.resultCode == .SQLITE_MISUSE
                && "\(error)".contains("no write-ahead log is open on this connection")
        }
    }
}

/// Polls `condition` every 5 ms for up to 10 s; records an issue if it never holds.
func waitUntil(_ condition: @Sendable () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Holds every admission sync until `open()`, counting them: the test sees what happens while a
/// commit is written but not yet synced. Polls instead of blocking on a semaphore; it runs on
/// GRDB's writer thread, not on the cooperative pool.
final class SyncGate: Sendable {
    private let state = Mutex((entered: 0, open: false))

    var entered: Int { state.withLock { $0.entered } }

    func open() { state.withLock { $0.open = true } }

    func sync(_ db: Database) throws {
        state.withLock { $0.entered += 1 }
        let deadline = ContinuousClock.now + .seconds(20)
        while !state.withLock({ $0.open }) && ContinuousClock.now < deadline { usleep(1000) }
        try WALSync.sync(db)
    }
}
