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
        return migrator
    }
}
