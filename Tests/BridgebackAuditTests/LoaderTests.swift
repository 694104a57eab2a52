import BridgebackCoordinator
import BridgebackCore
import BridgebackLedger
import BridgebackPolicy
import Foundation
import GRDB
import Logging
import Testing

@testable import BridgebackAdmissionStore
@testable import BridgebackAudit

/// The loader reads admission's store and the coordinator's ledger through their read-only
/// query APIs. Every row here is written by the owners' real write APIs: `AdmissionStore`, and
/// a `Coordinator` on a `Ledger` file that decides and delivers as in production.
@Suite struct LoaderTests {
    @Test func readsRequestsOutcomesJobsAndTheLedger() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try AdmissionStore(directory: dir)
        func entry(_ id: String, _ text: String, decision: String, minutesAgo: Double) -> RequestLogEntry {
            RequestLogEntry(
                id: id, origin: "cli:alice", text: text, hintsJSON: nil, decision: decision, forced: false, triggers: [],
                reason: "…", policyVersion: "2026.11-1", receivedAt: at(minutesAgo), idempotencyKey: nil)
        }
        try await store.logRequest(entry("req_a", "Shepherd the data migration along", decision: "inline", minutesAgo: 30))
        try await store.logRequest(entry("req_old", "Shepherd it", decision: "inline", minutesAgo: 3000))
        _ = try await store.recordOutcome(
            InlineOutcomeRecord(
                requestID: "req_a", durationSeconds: 900, toolCalls: 3, waitSeconds: 800, sources: 2, sourceNames: ["ci", "grafana"],
                verificationLoops: nil, followUps: 1, succeeded: true, note: nil, reportedAt: at(10)))
        // A detached job, admitted and published (its outbox rows confirmed), whose deadline passed.
        let contract = OwnershipContract(
            jobID: JobID.make(at: at(20)), origin: "cli:alice", workSurface: "work:alice", finalSurface: "hooks:local",
            deliveryMode: .direct, deadline: at(19), policyVersion: "2026.11-1", summary: "cron audit",
            requestExcerpt: "Audit the cron jobs on every host", parentID: "alice", recipe: RecipeInvocation(name: "cron-audit"),
            createdAt: at(20))
        let jobID = contract.jobID.description
        let admitted = try await store.admit(
            request: entry("req_b", "Audit the cron jobs on every host", decision: "detach", minutesAgo: 20), contract: contract,
            outbox: [
                OutboxDraft(kind: .contract, exchange: "bb.contracts", routingKey: "contract", payload: Array("{}".utf8)),
                OutboxDraft(kind: .job, exchange: "bb.jobs", routingKey: "default", payload: Array("{}".utf8)),
            ])
        guard case .created = admitted else { Issue.record("the job was not created: \(admitted)"); return }
        try await store.markSent(try await store.allOutbox(), at: at(19.9))

        // The coordinator gets the contract, sweeps the job as lost, and fails to deliver its notice
        // (the receiver answers 410 Gone), so a fallback notice goes to the work surface.
        let ledgerPath = dir.appendingPathComponent("coordinator.sqlite").path
        let coordinator = try LedgerWriter(path: ledgerPath)
        #expect(try await coordinator.coordinator.handleContract(Array(WireCodec.encode(contract))) == .ack)
        try await coordinator.coordinator.sweep()
        try await coordinator.deliverAll(contract.jobID)

        let records = try AuditLoader.load(
            admissionPath: dir.appendingPathComponent("admission.sqlite").path, ledgerPath: ledgerPath, window: window)
        #expect(records.requests.map(\.id) == ["req_a", "req_b"])
        let outcome = try #require(records.outcomes["req_a"])
        #expect(outcome.waitSeconds == 800 && outcome.sourceNames == ["ci", "grafana"] && outcome.followUps == 1)
        #expect(records.jobs[jobID]?.state == "published" && records.jobs[jobID]?.finalSurface == "hooks:local")
        let ledger = try #require(records.ledger?[jobID])
        #expect(ledger.endingKind == "lost" && ledger.state == "finished" && ledger.finalOutcome == "failed")
        #expect(ledger.fallbackParts == 1)
        // The coordinator's own sentence for a failed part, not just its kind.
        #expect(ledger.partFailures == ["missing_target"])
        #expect(ledger.partFailureDetails == ["hooks:local answered 410 Gone: the endpoint asked to be disabled (missing_target)"])

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

    /// The ledger reader hands back what the coordinator wrote, typed: the decision with its
    /// completion, and each part with its state machine state.
    @Test func theLedgerReaderReadsWhatTheCoordinatorWrote() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bb-audit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("coordinator.sqlite").path
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let writer = try LedgerWriter(path: path)
        let contract = OwnershipContract(
            jobID: JobID.make(at: at(20)), origin: "cli:alice", workSurface: "work:alice", finalSurface: "cli:alice",
            deliveryMode: .parent, deadline: at(-60), policyVersion: "2026.11-1", summary: "cron audit",
            requestExcerpt: "Audit the cron jobs on every host", parentID: "alice", recipe: RecipeInvocation(name: "cron-audit"),
            createdAt: at(20))
        let completion = Completion(
            jobID: contract.jobID, worker: "worker-a/1", startedAt: at(19), finishedAt: at(18), outcome: .succeeded(result: "All clean."))
        #expect(try await writer.coordinator.handleContract(Array(WireCodec.encode(contract))) == .ack)
        #expect(try await writer.coordinator.handleCompletion(Array(WireCodec.encode(completion))) == .ack)
        try await writer.deliverAll(contract.jobID)

        let reader = try LedgerReader(path: path)
        let (job, parts, unknown) = try reader.read { snapshot in
            (try snapshot.job(contract.jobID.description), try snapshot.parts(of: contract.jobID.description), try snapshot.job("job_none"))
        }
        #expect(unknown == nil)
        let row = try #require(job)
        #expect(row.state == "finished" && row.finalOutcome == "delivered" && row.duplicates == 0)
        #expect(row.contract == contract)
        #expect(row.decision == JobLifecycle.FinalDecision(kind: .result, text: "All clean.", completion: completion))
        #expect(parts.map(\.deliveryID) == [DeliveryID(job: contract.jobID, part: 1)])
        #expect(parts.first?.state.name == "delivered" && parts.first?.surfaceID == "cli:alice")
        #expect(AuditLoader.ledgerJob(row, parts: parts).runSeconds == 60)
        #expect(throws: LedgerReadError.self) { try LedgerReader(path: dir.appendingPathComponent("none.sqlite").path) }
        // The whole-ledger reads (the fleet test harness's) agree with the per-job ones.
        let (allJobs, allParts) = try reader.read { snapshot in (try snapshot.allJobs(), try snapshot.allParts()) }
        #expect(allJobs == [row] && allParts == parts)

        // The column names the writer and the reader share are exactly the migrated tables' columns.
        let queue = try DatabaseQueue(path: path)
        let (jobColumns, partColumns) = try await queue.read { db in
            (try db.columns(in: LedgerSchema.Jobs.table).map(\.name), try db.columns(in: LedgerSchema.Parts.table).map(\.name))
        }
        #expect(Set(jobColumns) == Set(LedgerSchema.Jobs.all.map(\.name)))
        #expect(Set(partColumns) == Set(LedgerSchema.Parts.all.map(\.name)))
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
        // (The test drops the table through the store's own connection; the audit never writes SQL.)
        try await store.writer.write { db in try db.execute(sql: "DROP TABLE contract_refusals") }
        let older = try AuditLoader.load(admissionPath: path, ledgerPath: nil, window: window)
        #expect(older.refusals.isEmpty)
        #expect(older.notes.contains { $0.contains("no contract_refusals table") })
    }
}

/// A coordinator on a ledger file, with a webhook adapter whose receiver has gone (410) and a
/// fallback that lands: the real write path of the ledger, no broker.
struct LedgerWriter {
    let coordinator: Coordinator

    struct Gone: DeliveryAdapter {
        func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { nil }
        func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? {
            DeliveryFailure(.missingTarget, detail: "\(delivery.surface.id) answered 410 Gone: the endpoint asked to be disabled")
        }
    }

    struct Lands: DeliveryAdapter {
        func dryRun(_ delivery: PreparedDelivery) async -> DeliveryFailure? { nil }
        func send(_ delivery: PreparedDelivery) async -> DeliveryFailure? { nil }
    }

    init(path: String) throws {
        let registry = try SurfaceRegistry(surfaces: [
            Surface(
                id: "cli:alice", kind: .inbox, address: "alice", humanName: "Alice's terminal", directAllowed: true,
                workSurface: "work:alice"),
            Surface(id: "work:alice", kind: .inbox, address: "alice.work", humanName: "Alice's work log"),
            Surface(
                id: "hooks:local", kind: .webhook, address: "http://127.0.0.1:9/hook", humanName: "the local receiver",
                directAllowed: true, signingSecret: .inline("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        ])
        var logger = Logger(label: "test.audit.ledger")
        logger.logLevel = .critical
        coordinator = Coordinator(
            ledger: try Ledger(path: path), registry: registry,
            adapters: AdapterSet(byKind: [.webhook: Gone(), .inbox: Lands()], fallback: Lands()), receipts: nil,
            configuration: CoordinatorConfiguration(
                lostGrace: 1, sweepInterval: .seconds(3600),
                retryPolicy: RetryPolicy(maxAttempts: 2, baseDelay: 0.01, maxDelay: 0.02, jitter: 0), now: { auditNow }),
            logger: logger)
    }

    /// Runs the delivery loop until `job` is finished (at most 10 s).
    func deliverAll(_ job: JobID) async throws {
        let coordinator = self.coordinator
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await coordinator.run() }
            defer { group.cancelAll() }
            let end = Date().addingTimeInterval(10)
            while Date() < end, try await coordinator.ledger.job(job)?.finalOutcome == nil {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        #expect(try await coordinator.ledger.job(job)?.finalOutcome != nil, "the coordinator did not finish \(job) in 10 s")
    }
}
