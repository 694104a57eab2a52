import BridgebackAudit
import BridgebackPolicy
import Foundation
import GRDB
import Testing

@testable import BridgebackAdmission

/// The loader reads the real admission store (migrated by the service's own migrator) and a
/// ledger with the coordinator's columns, read-only, into the records the Auditor judges.
@Suite struct LoaderTests {
    @Test func readsRequestsOutcomesJobsAndTheLedger() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try AdmissionStore(directory: dir)
        func entry(_ id: String, _ text: String, decision: String, job: String? = nil, minutesAgo: Double) -> RequestLogEntry {
            RequestLogEntry(
                id: id, origin: "cli:alice", text: text, hintsJSON: nil, decision: decision, forced: false, triggers: [],
                reason: "…", policyVersion: "2026.11-1", receivedAt: at(minutesAgo), idempotencyKey: nil, jobID: job)
        }
        try await store.logRequest(entry("req_a", "Shepherd the data migration along", decision: "inline", minutesAgo: 30))
        try await store.logRequest(entry("req_b", "Audit the cron jobs on every host", decision: "detach", job: "job_b", minutesAgo: 20))
        try await store.logRequest(entry("req_old", "Shepherd it", decision: "inline", minutesAgo: 3000))
        _ = try await store.recordOutcome(
            InlineOutcomeRecord(
                requestID: "req_a", durationSeconds: 900, toolCalls: 3, waitSeconds: 800, sources: 2, sourceNames: ["ci", "grafana"],
                verificationLoops: nil, followUps: 1, succeeded: true, note: nil, reportedAt: at(10)))
        try await store.writer.write { db in
            try db.execute(
                sql:
                    "INSERT INTO jobs (job_id, request_id, origin, work_surface, final_surface, contract, state, created_at, published_at) VALUES (?, ?, ?, ?, ?, '{}', 'published', ?, ?)",
                arguments: ["job_b", "req_b", "cli:alice", "work:alice", "hooks:local", WireDateText.at(20), WireDateText.at(19.9)])
        }
        let ledgerPath = dir.appendingPathComponent("coordinator.sqlite").path
        let ledger = try DatabaseQueue(path: ledgerPath)
        try await ledger.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE jobs (job_id TEXT PRIMARY KEY, state TEXT NOT NULL, contract_json TEXT, final_surface TEXT, delivery_mode TEXT,
                      parent_id TEXT, deadline REAL, ending_json TEXT, parked_at REAL, decision_json TEXT, duplicates INTEGER NOT NULL DEFAULT 0,
                      orphan_reported INTEGER NOT NULL DEFAULT 0, final_outcome TEXT, final_detail TEXT, created_at REAL NOT NULL, updated_at REAL NOT NULL);
                    CREATE TABLE delivery_parts (delivery_id TEXT PRIMARY KEY, job_id TEXT NOT NULL, purpose TEXT NOT NULL, part INTEGER NOT NULL,
                      total_parts INTEGER NOT NULL, surface_id TEXT NOT NULL, receiver_deduplicates INTEGER NOT NULL, body BLOB NOT NULL, state TEXT NOT NULL,
                      state_json TEXT NOT NULL, attempts INTEGER NOT NULL, failure_kind TEXT, failure_detail TEXT, next_attempt_at REAL,
                      created_at REAL NOT NULL, updated_at REAL NOT NULL);
                    INSERT INTO jobs (job_id, state, decision_json, final_outcome, duplicates, created_at, updated_at)
                      VALUES ('job_b', 'finished', '{"kind":"lost","text":"no completion by the deadline"}', 'delivered', 0, 0, 0);
                    INSERT INTO delivery_parts (delivery_id, job_id, purpose, part, total_parts, surface_id, receiver_deduplicates, body, state,
                      state_json, attempts, failure_kind, failure_detail, created_at, updated_at)
                      VALUES ('job_b:1', 'job_b', 'final', 1, 1, 'hooks:local', 1, x'00', 'failed', '{}', 3, 'missing_target',
                        'hooks:local answered 410 Gone: the endpoint asked to be disabled', 0, 0);
                    """)
        }
        let records = try AuditLoader.load(
            admissionPath: dir.appendingPathComponent("admission.sqlite").path, ledgerPath: ledgerPath, window: window)
        #expect(records.requests.map(\.id) == ["req_a", "req_b"])
        let outcome = try #require(records.outcomes["req_a"])
        #expect(outcome.waitSeconds == 800 && outcome.sourceNames == ["ci", "grafana"] && outcome.followUps == 1)
        #expect(records.jobs["job_b"]?.state == "published")
        #expect(records.ledger?["job_b"]?.endingKind == "lost")
        // The coordinator's own sentence for a failed part, not just its kind.
        #expect(records.ledger?["job_b"]?.partFailures == ["missing_target"])
        #expect(
            records.ledger?["job_b"]?.partFailureDetails == [
                "hooks:local answered 410 Gone: the endpoint asked to be disabled (missing_target)"
            ])

        let result = Auditor(config: .default, engine: try PolicyEngine.bundledDefault()).audit(records, window: window, now: auditNow)
        #expect(result.findings.map(\.findingClass) == [.triggerWordingGap, .helperContractGap])
        #expect(
            result.findings.last?.evidence.contains(
                "delivery part failures: hooks:local answered 410 Gone: the endpoint asked to be disabled (missing_target)") == true)

        let noLedger = try AuditLoader.load(
            admissionPath: dir.appendingPathComponent("admission.sqlite").path, ledgerPath: dir.appendingPathComponent("none.sqlite").path,
            window: window)
        #expect(noLedger.ledger == nil)
        #expect(noLedger.notes.contains { $0.contains("no ledger") })
        #expect(throws: AuditError.self) {
            try AuditLoader.load(admissionPath: "/nonexistent/admission.sqlite", ledgerPath: nil, window: window)
        }
    }

    @Test func readsContractRefusalsInTheWindowAndTheAuditorReportsThem() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try AdmissionStore(directory: dir)
        func refusal(_ id: String, minutesAgo: Double) -> ContractRefusalRecord {
            ContractRefusalRecord(
                id: id, at: at(minutesAgo), origin: "cli:alice", excerpt: "Gate the payments release", decision: "detach", forced: false,
                triggers: ["release_gate"], policyVersion: "2026.11-1", code: "invalid_recipe_params", field: "recipe.params",
                message: "'service' is required (string)")
        }
        try await store.recordRefusal(refusal("ref_a", minutesAgo: 15))
        try await store.recordRefusal(refusal("ref_old", minutesAgo: 3000))
        let path = dir.appendingPathComponent("admission.sqlite").path

        let records = try AuditLoader.load(admissionPath: path, ledgerPath: nil, window: window)
        #expect(records.requests.isEmpty)
        #expect(
            records.refusals == [
                ContractRefusal(
                    id: "ref_a", at: at(15), origin: "cli:alice", excerpt: "Gate the payments release", decision: "detach", forced: false,
                    triggers: ["release_gate"], policyVersion: "2026.11-1", code: "invalid_recipe_params", field: "recipe.params",
                    message: "'service' is required (string)")
            ])
        #expect(!records.notes.contains { $0.contains("contract_refusals") })
        let result = Auditor(config: .default, engine: try PolicyEngine.bundledDefault()).audit(records, window: window, now: auditNow)
        let finding = try #require(result.findings.first)
        #expect(result.findings.count == 1)
        #expect(finding.requestID == "ref_a" && finding.kind == .detachFailure && finding.findingClass == .helperContractGap)
        #expect(
            finding.evidence.first
                == "admission refused the contract with invalid_recipe_params on recipe.params: 'service' is required (string)")
        #expect(finding.evidence.contains("from cli:alice, decided detach by release_gate, policy 2026.11-1"))

        // An admission database from before refusals were recorded: no table, a note, no error.
        try await store.writer.write { db in try db.execute(sql: "DROP TABLE contract_refusals") }
        let older = try AuditLoader.load(admissionPath: path, ledgerPath: nil, window: window)
        #expect(older.refusals.isEmpty)
        #expect(older.notes.contains { $0.contains("no contract_refusals table") })
    }
}

enum WireDateText {
    static func at(_ minutesAgo: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: BridgebackAuditTests.at(minutesAgo))
    }
}
