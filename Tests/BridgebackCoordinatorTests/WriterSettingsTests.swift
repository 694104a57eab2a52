import BridgebackSQLite
import Foundation
import GRDB
import Testing

/// `WriterSettings` keeps the statement journal of a group's savepoints in memory. Shown where it
/// would otherwise land: SQLite's temporary files (`etilqs_*`, unlinked at once but open while the
/// transaction runs), read from `/proc/self/fd` in the middle of a group. The same group on a
/// writer without the settings is the control: it must show the file, or the probe proves nothing.
///
/// A group whose changes all succeed runs them without savepoints (`GroupTransaction.run`); one
/// with a failing change runs again with a savepoint per change. The probe shows both: no journal
/// at all for the first, even without the settings.
@Suite("WriterSettings: the savepoints' statement journal stays in memory", .serialized)
struct WriterSettingsTests {
    @Test("a group that runs in savepoints, whose first change writes ~400 KiB, opens no temporary file; without the settings it does")
    func noTemporaryFile() throws {
        #expect(try temporaryFilesDuringAGroup(settings: true, failing: true).isEmpty)
        #expect(!(try temporaryFilesDuringAGroup(settings: false, failing: true)).isEmpty)
    }

    @Test("a group whose changes all succeed writes no savepoint journal at all, even without the settings")
    func noSavepointJournalWhenAllSucceed() throws {
        #expect(try temporaryFilesDuringAGroup(settings: false, failing: false).isEmpty)
    }

    /// The SQLite temporary files open during the second change of a group (its last run, when a
    /// third change fails and the group runs again in savepoints), when the first has rewritten
    /// ~100 pages (past SQLite's 64 KiB in-memory spill limit) one row at a time.
    private func temporaryFilesDuringAGroup(settings: Bool, failing: Bool) throws -> Set<String> {
        struct Refused: Error {}
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("writer-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let pool = try DatabasePool(path: path)
        try pool.writeWithoutTransaction { db in
            if settings { try WriterSettings.apply(db) } else { try db.execute(sql: "PRAGMA synchronous = FULL") }
            try db.execute(sql: "CREATE TABLE blobs (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            // Rows already there, so the change below rewrites existing pages (journaled), not only new ones.
            for id in 0..<100 { try db.execute(sql: "INSERT INTO blobs (id, body) VALUES (?, zeroblob(4000))", arguments: [id]) }
        }
        let before = Self.openTemporaryFiles()
        var during: Set<String> = []
        var probes = 0
        try pool.writeWithoutTransaction { db in
            var changes: [(Database) throws -> any Sendable] = [
                // Row by row: a one-row statement needs no statement journal of its own (a
                // multi-row UPDATE does), so only a savepoint's journal can show here.
                { db in
                    let update = try db.cachedStatement(sql: "UPDATE blobs SET body = randomblob(4000) WHERE id = ?")
                    for id in 0..<100 { try update.execute(arguments: [id]) }
                    return ()
                },
                { _ in
                    during = Self.openTemporaryFiles()
                    probes += 1
                    return ()
                },
            ]
            if failing { changes.append { _ in throw Refused() } }
            let results = try GroupTransaction.run(db, durable: true, changes)
            for result in results.prefix(2) { _ = try result.get() }
            #expect(results.count == changes.count)
            if failing, case .success = results[2] { Issue.record("the failing change reported success") }
        }
        // Once when all succeed; twice when one fails (all at once, then each in its savepoint).
        #expect(probes == (failing ? 2 : 1))
        return during.subtracting(before)
    }

    /// The targets of this process's descriptors that are SQLite temporary files.
    private static func openTemporaryFiles() -> Set<String> {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(
            descriptors.compactMap { fd in
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else { return nil }
                return target.contains("etilqs_") ? "\(fd) \(target)" : nil
            })
    }
}
