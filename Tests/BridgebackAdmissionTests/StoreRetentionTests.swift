import BridgebackCore
import Foundation
import GRDB
import Testing

@testable import BridgebackAdmission
@testable import BridgebackAdmissionStore

/// Admission's store keeps what it is done with for `Retention.keep`, then prunes it: published
/// jobs with their outbox rows, request-log lines, contract refusals. Unsent work is never pruned.
@Suite("Admission store retention")
struct StoreRetentionTests {
    static let now = Date()
    static let old = now.addingTimeInterval(-7200)
    static let recent = now.addingTimeInterval(-60)
    /// One hour before now.
    static let cutoff = now.addingTimeInterval(-3600)

    /// A detached request admitted at `at` (its job id made then too), optionally published.
    @discardableResult
    static func admit(_ store: AdmissionStore, at: Date, key: String? = nil, published: Bool) async throws -> String {
        let id = JobID.make(at: at)
        let contract = OwnershipContract(
            jobID: id, origin: "cli:alice", workSurface: "work:alice", finalSurface: "cli:alice", deliveryMode: .parent,
            deadline: at.addingTimeInterval(600), policyVersion: "p", summary: "s", requestExcerpt: "t", parentID: "alice",
            recipe: RecipeInvocation(name: "noop"), idempotencyKey: key, createdAt: at)
        let entry = RequestLogEntry(
            id: "req_\(UUID().uuidString)", origin: "cli:alice", text: "t", decision: "detach", receivedAt: at, idempotencyKey: key)
        let drafts = [
            OutboxDraft(kind: .contract, exchange: "bb.contracts", routingKey: "contract", payload: [UInt8]("{}".utf8)),
            OutboxDraft(kind: .job, exchange: "bb.jobs", routingKey: "default", payload: [UInt8]("{}".utf8)),
        ]
        _ = try await store.admit(request: entry, contract: contract, outbox: drafts)
        if published {
            let rows = try await store.unsentOutbox(limit: 1000).filter { $0.jobID == id.description }
            try await store.markSent(rows, at: at)
        }
        return id.description
    }

    static func outboxRows(_ store: AdmissionStore, job: String) async throws -> Int {
        try await store.allOutbox().filter { $0.jobID == job }.count
    }

    static func refusal(at: Date) -> ContractRefusalRecord {
        ContractRefusalRecord(
            id: "ref_\(UUID().uuidString)", at: at, origin: "cli:alice", excerpt: "t", decision: "detach", forced: false, triggers: [],
            policyVersion: "p", code: "unknown_surface", field: "final_surface", message: "no such surface")
    }

    @Test("published old jobs go with their outbox rows and request lines; unsent and newer ones, and a kept job's line, stay")
    func prunesWhatIsDoneWith() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        let oldPublished = try await Self.admit(store, at: Self.old, published: true)
        let oldUnsent = try await Self.admit(store, at: Self.old, published: false)
        let recentPublished = try await Self.admit(store, at: Self.recent, published: true)
        // An old inline decision with its reported outcome, and an old replay line of the published job.
        let inline = RequestLogEntry(id: "req_inline_old", origin: "cli:alice", text: "t", decision: "inline", receivedAt: Self.old)
        try await store.logRequest(inline)
        _ = try await store.recordOutcome(
            InlineOutcomeRecord(requestID: inline.id, durationSeconds: 3, succeeded: true, reportedAt: Self.old))
        #expect(try await store.outcome(requestID: inline.id) != nil)
        try await store.logReplay(
            RequestLogEntry(id: "req_replay_old", origin: "cli:alice", text: "t", decision: "detach", receivedAt: Self.old),
            jobID: oldPublished)
        try await store.recordRefusal(Self.refusal(at: Self.old))
        try await store.recordRefusal(Self.refusal(at: Self.recent))
        let before = try await store.counts()

        let pruned = try await store.prune(before: Self.cutoff, limit: 500)

        // The published job's creating line, its replay line and the inline line.
        #expect(pruned == PrunedRecords(jobs: 1, requests: 3, refusals: 1))
        #expect(try await store.job(id: oldPublished) == nil)
        #expect(try await Self.outboxRows(store, job: oldPublished) == 0)
        #expect(try await store.outcome(requestID: inline.id) == nil)
        #expect(try await store.request(id: inline.id) == nil)
        // Its messages still wait: the job, both rows and the line that made it stay.
        #expect(try await store.job(id: oldUnsent) != nil)
        #expect(try await Self.outboxRows(store, job: oldUnsent) == 2)
        #expect(try await store.requestLog().contains { $0.jobID == oldUnsent })
        #expect(try await store.job(id: recentPublished) != nil)
        #expect(try await store.contractRefusals().count == 1)
        let after = try await store.counts()
        #expect(after.jobs == before.jobs - 1 && after.outbox == before.outbox - 2 && after.requests == before.requests - 3)
        // No row points at a deleted one.
        let dangling = try store.writer.read { db in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") }
        #expect(dangling.isEmpty)
        // Nothing more to prune.
        #expect(try await store.prune(before: Self.cutoff, limit: 500) == PrunedRecords())
    }

    @Test("a job's outbox rows are found by the job's index, not a scan (pruning, and the audit's last outbox error)")
    func outboxByJob() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        let queries: [(sql: String, arguments: [String])] = [
            ("SELECT last_error FROM outbox WHERE job_id = ? AND last_error IS NOT NULL ORDER BY seq DESC LIMIT 1", ["a"]),
            ("DELETE FROM outbox WHERE job_id IN (?, ?)", ["a", "b"]),
        ]
        let plans = try await store.writer.read { db in
            try queries.map { query in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + query.sql, arguments: StatementArguments(query.arguments))
                    .map { ($0["detail"] as String?) ?? "" }.joined(separator: "; ")
            }
        }
        for plan in plans { #expect(plan.contains("outbox_by_job"), "\(plan)") }
    }

    @Test("once its job is pruned, an idempotency key makes a new job")
    func idempotencyKeyFreedWithItsJob() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        let first = try await Self.admit(store, at: Self.old, key: "release-2.3", published: true)
        #expect(try await store.existingJob(origin: "cli:alice", idempotencyKey: "release-2.3")?.jobID == first)
        #expect(try await store.prune(before: Self.cutoff, limit: 500).jobs == 1)
        #expect(try await store.existingJob(origin: "cli:alice", idempotencyKey: "release-2.3") == nil)
        let second = try await Self.admit(store, at: Self.now, key: "release-2.3", published: false)
        #expect(second != first)
        #expect(try await store.existingJob(origin: "cli:alice", idempotencyKey: "release-2.3")?.jobID == second)
    }

    @Test("a pass prunes in transactions of `batch` records until fewer are left; without retention it prunes nothing")
    func pruner() async throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let store = try AdmissionStore(directory: dir.url)
        for _ in 0..<5 { try await Self.admit(store, at: Self.old, published: true) }
        let keepAll = StorePruner(
            store: store, retention: .keepEverything, logger: Fixtures.logger, metrics: AdmissionMetrics(), now: { Self.now })
        #expect(try await keepAll.pass() == PrunedRecords())
        #expect(try await store.counts().jobs == 5)

        let pruner = StorePruner(
            store: store, retention: Retention(keep: 3600, batch: 2), logger: Fixtures.logger, metrics: AdmissionMetrics(),
            now: { Self.now })
        #expect(try await pruner.pass() == PrunedRecords(jobs: 5, requests: 5))
        #expect(try await store.counts().jobs == 0)
        #expect(try await store.counts().outbox == 0)
    }
}
