public import GRDB

/// What both stores' writer connection runs with (the ledger's and admission's), set once after
/// the pool opened it: GRDB's pool sets `synchronous=NORMAL` when it turns WAL on, after
/// `prepareDatabase` has run, so these go on the writer afterwards.
public enum WriterSettings {
    /// - `synchronous=FULL`: a commit is synced before it returns, so whatever is answered or acked
    ///   after it survives power loss (`GroupTransaction` drops to NORMAL for one group and back).
    /// - `temp_store=MEMORY`: the statement journal of a group's savepoints (`GroupTransaction`: one
    ///   per change, and the coordinator's one per job inside it) stays in memory. On a file (the
    ///   default past 64 KiB) it wrote every page a change touched once more, two `pwrite`s per page
    ///   to a temporary file: ~17 per job in the coordinator and ~13 in admission, more than the
    ///   WAL's own. Nothing durable is lost: that journal only undoes a savepoint inside a live
    ///   transaction, and a crash undoes an uncommitted transaction by the WAL anyway. It is
    ///   emptied each time the group's outermost savepoint ends, so its memory is one change's pages.
    public static func apply(_ db: Database) throws {
        try db.execute(sql: "PRAGMA synchronous = FULL")
        try db.execute(sql: "PRAGMA temp_store = MEMORY")
    }
}
