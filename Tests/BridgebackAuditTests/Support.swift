import BridgebackAudit
import BridgebackPolicy
import Foundation
import Testing

/// A fixed clock: the audit is pure, so every test passes its own "now".
let auditNow = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18
let window = auditNow.addingTimeInterval(-86400)...auditNow

func at(_ minutesAgo: Double) -> Date { auditNow.addingTimeInterval(-minutesAgo * 60) }

/// The labelled corpus: `$BRIDGEBACK_SHARED_DATA`, then shared/ beside the repo, then the snapshot.
func loadCorpus(filePath: String = #filePath) throws -> [LabelledRequest] {
    var candidates: [URL] = []
    if let env = ProcessInfo.processInfo.environment["BRIDGEBACK_SHARED_DATA"], !env.isEmpty {
        let url = URL(fileURLWithPath: env)
        candidates.append(url.pathExtension == "jsonl" ? url : url.appendingPathComponent("admission-corpus.jsonl"))
    }
    var dir = URL(fileURLWithPath: filePath).deletingLastPathComponent()
    while dir.path != "/" {
        candidates.append(dir.appendingPathComponent("shared/data/admission-corpus.jsonl"))
        dir = dir.deletingLastPathComponent()
    }
    candidates.append(
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/admission-corpus.jsonl"))
    let url = try #require(candidates.first { FileManager.default.fileExists(atPath: $0.path) }, "admission-corpus.jsonl not found")
    let (rows, errors) = ClassifyLines.labelled(from: try String(contentsOf: url, encoding: .utf8))
    #expect(errors.isEmpty)
    return rows
}

/// Seeded records with one or more findings of every class, and requests that must not be findings.
enum Seed {
    static func inline(_ id: String, _ text: String, minutesAgo: Double, triggers: [String] = [], forced: Bool = false) -> AuditRequest {
        AuditRequest(
            id: id, origin: "cli:alice", text: text, decision: "inline", forced: forced, triggers: triggers,
            reason: "Inline: no detach cue reached the threshold.", policyVersion: "2026.11-1", receivedAt: at(minutesAgo))
    }

    static func detach(_ id: String, _ text: String, job: String, minutesAgo: Double) -> AuditRequest {
        AuditRequest(
            id: id, origin: "cli:alice", text: text, decision: "detach", triggers: ["maintenance"], reason: "Detach: …",
            policyVersion: "2026.11-1", receivedAt: at(minutesAgo), jobID: job)
    }

    static func published(_ job: String, _ request: String, minutesAgo: Double) -> AdmissionJob {
        AdmissionJob(
            jobID: job, requestID: request, state: "published", finalSurface: "hooks:local", createdAt: at(minutesAgo),
            publishedAt: at(minutesAgo - 0.1))
    }

    static var records: AuditRecords {
        let requests = [
            // trigger_wording_gap: wait-heavy, multi-source, verification loops, and one whose verb alone is too broad.
            inline("req_01", "Shepherd the data migration along", minutesAgo: 600),
            inline("req_02", "Wrangle the quarterly numbers for the board", minutesAgo: 590),
            inline("req_03", "Hammer the login flow until it stops flaking", minutesAgo: 580),
            inline("req_04", "Open the quarterly close for the finance team", minutesAgo: 570),
            // false_positive_calibration: many tools and sources, but 12 seconds and fine.
            inline("req_05", "What does a security sweep cover?", minutesAgo: 560, triggers: ["maintenance"]),
            // audit_reporting_gap: long with no shape; a near miss with no outcome.
            inline("req_06", "Nurse the flaky replica back to health", minutesAgo: 550),
            inline("req_07", "Explain what a canary release is", minutesAgo: 540, triggers: ["release_gate"]),
            // helper_contract_gap: forced inline long work; lost; failed to launch; fallback + uncertain + duplicates.
            inline("req_08", "Tidy up the staging buckets", minutesAgo: 530, forced: true),
            detach("req_09", "Audit the cron jobs on every host", job: "job_09", minutesAgo: 520),
            detach("req_10", "Rotate the API keys on all services", job: "job_10", minutesAgo: 510),
            detach("req_11", "Collect disk usage from all 30 servers", job: "job_11", minutesAgo: 500),
            // Not findings: a short inline turn, an inline turn with no outcome and no near miss, a clean detach, a replay.
            inline("req_12", "Thanks, that's perfect!", minutesAgo: 490),
            inline("req_13", "Convert 5 miles to kilometres", minutesAgo: 480),
            detach("req_14", "Verify the backups on all 30 servers", job: "job_14", minutesAgo: 470),
            AuditRequest(
                id: "req_15", origin: "cli:alice", text: "Verify the backups on all 30 servers", decision: "detach", receivedAt: at(469),
                jobID: "job_14", replay: true),
            // Outside the window: ignored.
            inline("req_16", "Shepherd the other migration along", minutesAgo: 60 * 30),
        ]
        let outcomes: [String: InlineOutcome] = [
            "req_01": InlineOutcome(requestID: "req_01", durationSeconds: 900, toolCalls: 4, waitSeconds: 700, succeeded: true),
            "req_02": InlineOutcome(
                requestID: "req_02", durationSeconds: 600, toolCalls: 8, waitSeconds: 20, sources: 4,
                sourceNames: ["sheets-emea", "sheets-apac", "sheets-amer", "crm"], succeeded: true),
            "req_03": InlineOutcome(
                requestID: "req_03", durationSeconds: 500, toolCalls: 5, waitSeconds: 30, verificationLoops: 4, succeeded: false),
            "req_04": InlineOutcome(
                requestID: "req_04", durationSeconds: 1800, toolCalls: 3, waitSeconds: 1500, followUps: 2, succeeded: true),
            "req_05": InlineOutcome(requestID: "req_05", durationSeconds: 12, toolCalls: 7, waitSeconds: 0, sources: 3, succeeded: true),
            "req_06": InlineOutcome(requestID: "req_06", durationSeconds: 400, succeeded: true),
            "req_08": InlineOutcome(requestID: "req_08", durationSeconds: 700, toolCalls: 12, waitSeconds: 100, succeeded: true),
            "req_12": InlineOutcome(requestID: "req_12", durationSeconds: 2, toolCalls: 0, waitSeconds: 0, succeeded: true),
        ]
        let jobs: [String: AdmissionJob] = [
            "job_09": published("job_09", "req_09", minutesAgo: 520),
            "job_10": AdmissionJob(
                jobID: "job_10", requestID: "req_10", state: "accepted", finalSurface: "hooks:local", createdAt: at(510),
                lastOutboxError: "unroutable: no queue bound for routing key 'gpu'"),
            "job_11": published("job_11", "req_11", minutesAgo: 500),
            "job_14": published("job_14", "req_14", minutesAgo: 470),
        ]
        let ledger: [String: LedgerJob] = [
            "job_09": LedgerJob(jobID: "job_09", state: "finished", endingKind: "lost", finalOutcome: "delivered"),
            "job_11": LedgerJob(
                jobID: "job_11", state: "finished", endingKind: "result", finalOutcome: "uncertain", finalDetail: "webhook timed out",
                duplicates: 1, fallbackParts: 1, partFailures: ["unknown_outcome"]),
            "job_14": LedgerJob(jobID: "job_14", state: "finished", endingKind: "result", finalOutcome: "delivered"),
        ]
        let refusals = [
            // helper_contract_gap (detach failure): would have detached, refused its contract, so no job.
            ContractRefusal(
                id: "ref_01", at: at(460), origin: "cli:alice", excerpt: "Page the on-call digest with the nightly backup report",
                decision: "detach", forced: true, triggers: [], policyVersion: "2026.11-1", code: "direct_not_allowed",
                field: "delivery_mode",
                message: "pager:digest does not allow direct delivery; use delivery_mode \"parent\""),
            // Outside the window: ignored.
            ContractRefusal(
                id: "ref_old", at: at(60 * 30), origin: "cli:alice", excerpt: "Gate the release", code: "unknown_recipe", field: "recipe",
                message: "recipe 'gate' is not in the worker catalog"),
        ]
        return AuditRecords(requests: requests, outcomes: outcomes, jobs: jobs, ledger: ledger, refusals: refusals)
    }
}
