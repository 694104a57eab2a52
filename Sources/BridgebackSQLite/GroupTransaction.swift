public import GRDB

/// The one transaction of a group commit (`GroupCommit`), as both stores' writers run it: the
/// ledger's and admission's. Kept in one place so the rules that make it safe stay the same in
/// both: the sync switch, the immediate transaction, a savepoint per change when there are several.
public enum GroupTransaction {
    /// Runs `changes` in one immediate transaction on the writer and returns each change's result
    /// in order. Synced (FULL, the writer's resting mode) when `durable`; otherwise NORMAL for this
    /// transaction only: in WAL order, so the next synced commit makes it durable too. A group of
    /// one runs without a savepoint (its error rolls the transaction back); in a larger group an
    /// error undoes only that change's writes.
    ///
    /// A larger group first runs every change with no savepoint at all: SQLite copies each page a
    /// savepoint changes into its savepoint journal, once per savepoint, and a savepoint per change
    /// copied the same pages (a table's last leaf, its indexes' pages) once per change: ~40,000
    /// instructions per job in admission (#12, sixteenth session). If a change throws, that
    /// transaction is rolled back and the group runs again in a new one, each change in its own
    /// savepoint, as before. So **a change may run twice**: it must do database work only (and
    /// keep caches keyed by value, which a rolled-back run cannot make wrong), never an effect
    /// outside the database that it would then do twice.
    public static func run(
        _ db: Database, durable: Bool, _ changes: [(Database) throws -> any Sendable]
    ) throws -> [Result<any Sendable, any Error>] {
        // Prepared per use, never cached: SQLite applies `PRAGMA synchronous = …` when the statement
        // is prepared, and a cached one stepped again after the level changed another way does not
        // switch it (checked against libsqlite3 3.40), which could leave the writer NORMAL.
        if !durable { try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        var results: [Result<any Sendable, any Error>] = []
        let transaction = Result {
            if changes.count > 1, let outputs = try allOrNothing(db, changes) {
                results = outputs.map { .success($0) }
                return
            }
            try db.inTransaction(.immediate) {
                if changes.count == 1 {
                    let result = Result { () throws -> any Sendable in try changes[0](db) }
                    results = [result]
                    if case .failure = result { return .rollback }
                    return .commit
                }
                results = changes.map { change in Result { () throws -> any Sendable in try inSavepoint(db) { try change(db) } } }
                return .commit
            }
        }
        // Not `try?`: a writer left NORMAL would commit every later durable group without a sync, and
        // nothing would say so. If FULL cannot be restored the group fails instead: the coordinator's
        // consumer then ends the service with the pass unacked (redelivered), and admission's relay
        // leaves its rows unsent (published again; consumers drop repeats by job id).
        if !durable { try db.execute(sql: "PRAGMA synchronous = FULL") }
        try transaction.get()
        return results
    }

    /// Every change in one transaction without savepoints, committed if all return; nil (and
    /// nothing written) if one throws.
    private static func allOrNothing(_ db: Database, _ changes: [(Database) throws -> any Sendable]) throws -> [any Sendable]? {
        var outputs: [any Sendable]?
        try db.inTransaction(.immediate) {
            var done: [any Sendable] = []
            done.reserveCapacity(changes.count)
            for change in changes {
                do { done.append(try change(db)) } catch { return .rollback }
            }
            outputs = done
            return .commit
        }
        return outputs
    }

    /// One change of a group in its own savepoint: released if it returns, rolled back to (and
    /// released) if it throws, so only its own writes are undone. As GRDB's `inSavepoint`, but with
    /// `SAVEPOINT` and `RELEASE` prepared once per connection: GRDB prepares both again on every
    /// call (two per change in a group; `sqlite3_prepare_v3` was ~5 % of admission's CPU per job).
    /// Runs inside GRDB's `inTransaction` block, so a statement after a transaction SQLite aborted
    /// (e.g. on `SQLITE_FULL`) still throws `SQLITE_ABORT` instead of running outside it.
    ///
    /// `Savepoint.change` is the group's own; a change that needs savepoints of its own inside
    /// (the coordinator's one per job of a pass) takes `Savepoint.item`, nested in it.
    public static func inSavepoint<T>(_ db: Database, _ savepoint: Savepoint = .change, _ body: () throws -> T) throws -> T {
        try db.cachedStatement(sql: savepoint.begin).execute()
        let output: T
        do {
            output = try body()
        } catch {
            try? db.execute(sql: savepoint.rollback)
            try? db.execute(sql: savepoint.release)
            throw error
        }
        try db.cachedStatement(sql: savepoint.release).execute()
        return output
    }

    /// A savepoint's name and the statements that open, release and roll back to it.
    public struct Savepoint: Sendable {
        let begin: String
        let release: String
        let rollback: String

        init(_ name: String) {
            begin = "SAVEPOINT \(name)"
            release = "RELEASE SAVEPOINT \(name)"
            rollback = "ROLLBACK TRANSACTION TO SAVEPOINT \(name)"
        }

        /// One change of a group.
        public static let change = Savepoint("grp")
        /// One item inside a change (nested in `change`).
        public static let item = Savepoint("item")
    }
}
