public import GRDB

/// The ledger's tables, as GRDB migrations: add a migration, never edit a shipped one.
///
/// This target owns the ledger's schema, the JSON forms of its TEXT columns (`LedgerJSON`) and the
/// read-only query API (`LedgerReader`) other processes read it through; the coordinator's
/// `Ledger` is the one writer and migrates the file when it opens it.
public enum LedgerSchema {
    public static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: jobs and delivery parts") { db in
            // One row per job the coordinator has heard of: its `JobLifecycle` state in columns.
            try db.execute(
                sql: """
                    CREATE TABLE jobs (
                        job_id TEXT PRIMARY KEY NOT NULL,
                        state TEXT NOT NULL,             -- JobLifecycle.State.name
                        contract_json TEXT,              -- bridgeback.contract.v1, once it arrived
                        final_surface TEXT,
                        delivery_mode TEXT,
                        parent_id TEXT,
                        deadline REAL,                   -- seconds since 1970, for the sweeper
                        ending_json TEXT,                -- a completion/dead letter parked before its contract
                        parked_at REAL,
                        decision_json TEXT,              -- the one final decision (kind, text, completion)
                        duplicates INTEGER NOT NULL DEFAULT 0,
                        orphan_reported INTEGER NOT NULL DEFAULT 0,
                        final_outcome TEXT,              -- delivered | failed | uncertain | suppressed | undeliverable
                        final_detail TEXT,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL
                    );
                    CREATE INDEX jobs_by_state_deadline ON jobs(state, deadline);
                    -- One row per (job, purpose, part): the DeliveryStateMachine state.
                    CREATE TABLE delivery_parts (
                        delivery_id TEXT PRIMARY KEY NOT NULL,   -- dlv_<ulid>_<n> | dlv_<ulid>_fallback_<n>
                        job_id TEXT NOT NULL REFERENCES jobs(job_id) ON DELETE CASCADE,
                        purpose TEXT NOT NULL,                   -- final | fallback
                        part INTEGER NOT NULL,
                        total_parts INTEGER NOT NULL,
                        surface_id TEXT NOT NULL,
                        receiver_deduplicates INTEGER NOT NULL,
                        body BLOB NOT NULL,                      -- the bridgeback.final.v1 bytes, fixed at planning
                        state TEXT NOT NULL,                     -- DeliveryState.name
                        state_json TEXT NOT NULL,                -- the full DeliveryState
                        attempts INTEGER NOT NULL,
                        failure_kind TEXT,
                        failure_detail TEXT,
                        next_attempt_at REAL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        UNIQUE(job_id, purpose, part)
                    );
                    CREATE INDEX delivery_parts_by_state ON delivery_parts(state);
                    """)
        }
        migrator.registerMigration("v2: ledger_sync") { db in
            // One row the ledger updates in a synced commit when a change committed without a
            // sync must reach the disk and no other synced commit came (see Ledger.awaitDurable).
            try db.execute(
                sql: """
                    CREATE TABLE ledger_sync (id INTEGER PRIMARY KEY NOT NULL, syncs INTEGER NOT NULL);
                    INSERT INTO ledger_sync (id, syncs) VALUES (1, 0);
                    """)
        }
        migrator.registerMigration("v3: retention") { db in
            // How far the ledger has been pruned: every job whose id was made before
            // `pruned_before_ms` (Unix ms) may be gone, so a message about such a job that the
            // ledger does not know is refused instead of starting the job again (`Coordinator.prune`).
            try db.execute(
                sql: """
                    CREATE TABLE ledger_retention (
                        id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                        pruned_before_ms INTEGER NOT NULL
                    );
                    INSERT INTO ledger_retention (id, pruned_before_ms) VALUES (1, 0);
                    """)
        }
        return migrator
    }
}

extension LedgerSchema {
    /// The columns of `jobs`, named once. The coordinator's writer (`JobTable`) and `LedgerReader`
    /// both name them through these, so renaming one changes both, and a column taken away stops
    /// the reader (and the audit that reads through it) from compiling. The migrations above stay as
    /// shipped; `LedgerSchemaTests` checks that each of these is a column of the migrated table.
    public enum Jobs {
        public static let table = "jobs"
        public static let jobID = Column("job_id")
        /// `JobLifecycle.State.name`.
        public static let state = Column("state")
        /// `bridgeback.contract.v1`, once it arrived.
        public static let contractJSON = Column("contract_json")
        public static let finalSurface = Column("final_surface")
        public static let deliveryMode = Column("delivery_mode")
        public static let parentID = Column("parent_id")
        /// Seconds since 1970, for the sweeper.
        public static let deadline = Column("deadline")
        /// A completion or dead letter parked before its contract, and when.
        public static let endingJSON = Column("ending_json")
        public static let parkedAt = Column("parked_at")
        /// The one final decision (kind, text, completion), `LedgerJSON`.
        public static let decisionJSON = Column("decision_json")
        public static let duplicates = Column("duplicates")
        public static let orphanReported = Column("orphan_reported")
        /// delivered | failed | uncertain | suppressed | undeliverable.
        public static let finalOutcome = Column("final_outcome")
        public static let finalDetail = Column("final_detail")
        public static let createdAt = Column("created_at")
        public static let updatedAt = Column("updated_at")

        /// Every column, in the order the writer inserts them.
        public static let all: [Column] = [
            jobID, state, contractJSON, finalSurface, deliveryMode, parentID, deadline, endingJSON, parkedAt, decisionJSON, duplicates,
            orphanReported, finalOutcome, finalDetail, createdAt, updatedAt,
        ]
    }

    /// The columns of `delivery_parts` (one row per job, purpose and part), named once as `Jobs`'s are.
    public enum Parts {
        public static let table = "delivery_parts"
        /// `dlv_<ulid>_<n>` or `dlv_<ulid>_fallback_<n>`.
        public static let deliveryID = Column("delivery_id")
        public static let jobID = Column("job_id")
        /// final | fallback.
        public static let purpose = Column("purpose")
        public static let part = Column("part")
        public static let totalParts = Column("total_parts")
        public static let surfaceID = Column("surface_id")
        public static let receiverDeduplicates = Column("receiver_deduplicates")
        /// The `bridgeback.final.v1` bytes, fixed at planning.
        public static let body = Column("body")
        /// `DeliveryState.name`, and the full `DeliveryState` (`LedgerJSON`).
        public static let state = Column("state")
        public static let stateJSON = Column("state_json")
        public static let attempts = Column("attempts")
        public static let failureKind = Column("failure_kind")
        public static let failureDetail = Column("failure_detail")
        public static let nextAttemptAt = Column("next_attempt_at")
        public static let createdAt = Column("created_at")
        public static let updatedAt = Column("updated_at")

        /// Every column, in the order the writer inserts them.
        public static let all: [Column] = [
            deliveryID, jobID, purpose, part, totalParts, surfaceID, receiverDeduplicates, body, state, stateJSON, attempts, failureKind,
            failureDetail, nextAttemptAt, createdAt, updatedAt,
        ]
    }

    /// `a, b, c`: columns for a SELECT or INSERT list.
    public static func list(_ columns: [Column]) -> String { columns.map(\.name).joined(separator: ", ") }

    /// `?, ?, ?`: one placeholder per column.
    public static func placeholders(_ columns: [Column]) -> String { columns.map { _ in "?" }.joined(separator: ", ") }
}
