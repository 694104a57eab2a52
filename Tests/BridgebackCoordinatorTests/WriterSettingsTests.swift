import BridgebackSQLite
import Foundation
import GRDB
import Testing

/// `WriterSettings` keeps the statement journal of a group's savepoints in memory. Shown where it
/// would otherwise land: SQLite's temporary files (`etilqs_*`, unlinked at once but open while the
/// transaction runs), read from `/proc/self/fd` in the middle of a group. The same group on a
/// writer without the settings is the control: it must show the file, or the probe proves nothing.
@Suite("WriterSettings: the savepoints' statement journal stays in memory", .serialized)
struct WriterSettingsTests {
    @Test("a group whose first change writes ~400 KiB opens no temporary file; without the settings it does")
    func noTemporaryFile() throws {
        #expect(try temporaryFilesDuringAGroup(settings: true).isEmpty)
        #expect(!(try temporaryFilesDuringAGroup(settings: false)).isEmpty)
    }

    /// The SQLite temporary files open during the second change of a two-change group, when the
    /// first has rewritten ~100 pages (past SQLite's 64 KiB in-memory spill limit) in its savepoint.
    private func temporaryFilesDuringAGroup(settings: Bool) throws -> Set<String> {
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
        try pool.writeWithoutTransaction { db in
            let results = try GroupTransaction.run(
                db, durable: true,
                [
                    { db in try db.execute(sql: "UPDATE blobs SET body = randomblob(4000)") },
                    { _ in during = Self.openTemporaryFiles() },
                ])
            for result in results { _ = try result.get() }
        }
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
