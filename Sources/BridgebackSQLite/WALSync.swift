public import GRDB
import GRDBSQLite

/// Puts a WAL-mode connection's committed transactions on disk: one sync of its write-ahead log,
/// the same call SQLite makes at the end of a `synchronous=FULL` commit.
///
/// Why a store would sync by hand: a commit with `synchronous=NORMAL` is written to the WAL (in
/// the OS's cache: a process crash loses nothing) but not synced. Between that write and this sync
/// the writer can hand the committed rows on (admission's relay starts publishing them) while the
/// sync runs, instead of after it; callers are answered only after the sync, as after a FULL
/// commit. The WAL is one file, so one sync covers every commit written before it.
public enum WALSync {
    /// Syncs the write-ahead log of `db`'s main database. Call it on the writer, after the commit,
    /// before answering anyone who was told the commit is durable.
    ///
    /// - Throws: `DatabaseError` with SQLite's code when the log cannot be reached (not in WAL
    ///   mode, no log open yet) or the sync fails (`SQLITE_IOERR_FSYNC`): then nothing may be
    ///   answered as durable.
    public static func sync(_ db: Database) throws {
        var file: UnsafeMutablePointer<sqlite3_file>?
        let found = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file)
        guard found == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: found), message: "cannot reach the write-ahead log to sync it")
        }
        // No methods: the log is not open (a connection that never wrote, or not in WAL mode).
        guard let file, let sync = file.pointee.pMethods?.pointee.xSync else {
            throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "no write-ahead log is open on this connection to sync")
        }
        let synced = sync(file, SQLITE_SYNC_NORMAL)
        guard synced == SQLITE_OK else {
            throw DatabaseError(resultCode: ResultCode(rawValue: synced), message: "the write-ahead log could not be synced")
        }
    }
}
