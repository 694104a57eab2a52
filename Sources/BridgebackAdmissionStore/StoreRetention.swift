import BridgebackCore
public import Foundation
import GRDB

/// What one pruning transaction of admission's store deleted.
public struct PrunedRecords: Sendable, Hashable {
    /// Jobs, with their outbox rows.
    public var jobs = 0
    /// Request-log lines, with their inline outcomes.
    public var requests = 0
    /// Recorded contract refusals.
    public var refusals = 0

    public init(jobs: Int = 0, requests: Int = 0, refusals: Int = 0) {
        self.jobs = jobs
        self.requests = requests
        self.refusals = refusals
    }

    /// Whether any kind reached `limit` (more may be left for another transaction).
    public func reached(_ limit: Int) -> Bool { jobs >= limit || requests >= limit || refusals >= limit }
}

extension AdmissionStore {
    /// Deletes, in one transaction, records from before `before` that admission is done with:
    /// up to `limit` jobs made before it (by their id's time) whose outbox rows were all published,
    /// with those rows; up to `limit` request-log lines received before it whose job is gone (or
    /// that had none: inline decisions, refusals of the request), with their inline outcomes; and up
    /// to `limit` recorded contract refusals. A job whose contract or job message still waits in the
    /// outbox is kept whatever its age, and so is every line naming a kept job.
    ///
    /// After its job is pruned, an idempotency key is free again: the same request sent later is
    /// a new job (docs/admission-service.md, "Retention"). Committed without a sync of its own (a
    /// power cut can only bring rows back).
    public func prune(before: Date, limit: Int) async throws -> PrunedRecords {
        let floor = JobID.floor(milliseconds: JobID.milliseconds(of: before)).description
        let cutoff = WireDate.format(before)
        return try await write(durable: false) { db -> PrunedRecords in
            var pruned = PrunedRecords()
            // Jobs by their primary key (ids sort by the time they were made); unsent rows keep a job.
            let jobs = try String.fetchAll(
                db,
                sql: """
                    SELECT job_id FROM jobs WHERE job_id < ?
                    AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.job_id = jobs.job_id AND outbox.sent_at IS NULL)
                    ORDER BY job_id LIMIT ?
                    """,
                arguments: [floor, limit])
            try Self.delete(db, from: "outbox", where: "job_id", in: jobs)
            try Self.delete(db, from: "jobs", where: "job_id", in: jobs)
            pruned.jobs = jobs.count
            // Lines by when they came (indexed); a line whose job is still here stays (a job's
            // `request_id` names the line that created it, whose `job_id` is that job).
            let requests = try String.fetchAll(
                db,
                sql: """
                    SELECT id FROM request_log WHERE received_at < ?
                    AND (job_id IS NULL OR NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.job_id = request_log.job_id))
                    ORDER BY received_at LIMIT ?
                    """,
                arguments: [cutoff, limit])
            try Self.delete(db, from: "inline_outcomes", where: "request_id", in: requests)
            try Self.delete(db, from: "request_log", where: "id", in: requests)
            pruned.requests = requests.count
            try db.execute(
                sql: "DELETE FROM contract_refusals WHERE id IN (SELECT id FROM contract_refusals WHERE at < ? ORDER BY at LIMIT ?)",
                arguments: [cutoff, limit])
            pruned.refusals = db.changesCount
            return pruned
        }
    }

    /// `DELETE FROM table WHERE column IN (values…)`; nothing for no values.
    private static func delete(_ db: Database, from table: String, where column: String, in values: [String]) throws {
        guard !values.isEmpty else { return }
        let placeholders = Array(repeating: "?", count: values.count).joined(separator: ", ")
        try db.execute(sql: "DELETE FROM \(table) WHERE \(column) IN (\(placeholders))", arguments: StatementArguments(values))
    }
}
