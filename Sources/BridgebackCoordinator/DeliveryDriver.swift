import BridgebackCore
import Foundation
import GRDB
import Logging
import ServiceLifecycle

/// The per-job delivery loop: parts in order, each through `DeliveryStateMachine`, every
/// transition committed before the action it asks for is performed.
extension Coordinator {
    /// - Parameter decided: what the commit that decided the notice wrote (the job is then
    ///   `delivering` with exactly these `pending` parts, and no other task has touched them);
    ///   nil: read the job and its parts from the ledger (a resumed or re-run delivery).
    func deliverJob(_ id: JobID, decided: DecidedDelivery? = nil) async {
        let log = logger.forJob(id)
        do {
            let contract: OwnershipContract
            var parts: [PartRecord]
            if let decided {
                (contract, parts) = (decided.contract, decided.parts)
            } else {
                guard let job = try await ledger.job(id), let known = job.contract else { return }
                guard case .delivering = job.lifecycle.state else { return }
                contract = known
                // Only this task changes this job's parts, so they are read again only after a part
                // ends other than delivered (a failure may abandon later parts or add a fallback).
                parts = try await ledger.parts(of: id)
            }
            var delivered: Set<DeliveryID> = []
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                guard let next = parts.first(where: { $0.state.outcome == nil && !delivered.contains($0.deliveryID) }) else {
                    try await finishJob(id, log: log)
                    return
                }
                switch try await drive(next, contract: contract, logger: log) {
                case .stopped, .jobFinished: return
                case .delivered: delivered.insert(next.deliveryID)
                case .ended: parts = try await ledger.parts(of: id)
                }
            }
        } catch let error as DatabaseError {
            // The ledger cannot be written (or read): nothing else may be sent, since nothing
            // would be recorded. Stop the coordinator; a supervisor restarts it or an operator
            // repairs the file, and the next start resumes from the last committed transition.
            log.critical("the delivery ledger failed; the coordinator stops", metadata: ["error": "\(error)"])
            ledgerFailed(CoordinatorError(.ledgerUnavailable, "the delivery ledger failed while delivering job \(id): \(error)"))
        } catch {
            log.error("delivery stopped on an error; it resumes at the next start", metadata: ["error": "\(error)"])
        }
    }

    /// How driving one part ended.
    enum DriveOutcome {
        /// The coordinator stops; the part resumes at the next start.
        case stopped
        /// Delivered, and the job goes on with its next part.
        case delivered
        /// Failed or uncertain: the other parts may have changed with it.
        case ended
        /// The part was the job's last and the job finished in the same transaction.
        case jobFinished
    }

    /// Drives one part until it is terminal or the coordinator stops.
    ///
    /// Fewer commits than transitions where durability does not need them: `dry_run_ok` is
    /// committed together with `sending` (a crash in between re-runs the dry run, which sends
    /// nothing); for a broker surface whose receiver deduplicates (the parent inbox) the
    /// `sending` mark is folded into the outcome's commit (a crash in between re-publishes
    /// under the same delivery id, which the inbox drops). HTTP sends keep their `sending`
    /// mark, so every wire request is one the ledger counted. The terminal commit of a job's
    /// last part also finishes the job.
    private func drive(_ part: PartRecord, contract: OwnershipContract, logger: ContextLogger) async throws -> DriveOutcome {
        let id = part.deliveryID
        let (total, surfaceID) = (part.totalParts, part.surfaceID)
        let log = logger.adding {
            $0["part"] = .string(String(id.part) + "/" + String(total))
            $0["surface"] = .string(surfaceID.rawValue)
            $0["delivery_id"] = .string(id.description)
        }
        let surface = registry[part.surfaceID]
        let adapter = surface.flatMap { adapters.adapter(for: id, surface: $0) }
        let now = configuration.now
        var rng = SystemRandomNumberGenerator()
        var machine = DeliveryStateMachine(
            restoring: part.state, deliveryID: id, receiverDeduplicates: part.receiverDeduplicates,
            retryPolicy: configuration.retryPolicy)
        var action = machine.resume(now: now(), using: &rng)
        /// The job's outcome, once a commit of this part finished the job.
        var jobFinished: Finished?
        if machine.state != part.state {
            if case .sending = part.state {
                log.warning(
                    "found a send interrupted by a stop; outcome unknown",
                    metadata: [
                        "resolution": "\(part.receiverDeduplicates ? "re-send with the same delivery id" : "uncertain, not re-sent")"
                    ])
            }
            jobFinished = try await commit(id, machine.state, contract: contract)
        }
        let foldSending = part.receiverDeduplicates && surface?.kind == .inbox
        func prepared(_ attempt: Int) -> PreparedDelivery? {
            surface.map { PreparedDelivery(deliveryID: id, totalParts: part.totalParts, surface: $0, body: part.body, attempt: attempt) }
        }
        let gone = DeliveryFailure(.missingTarget, detail: "surface '\(part.surfaceID)' is not in the registry (or has no adapter)")
        var announcedWait: Date?
        let surfaceKind = id.purpose == .fallback ? "progress" : (surface?.kind.rawValue ?? "unknown")
        while true {
            switch action {
            case .runDryRun:
                var failure = gone
                if let adapter, let delivery = prepared(machine.state.attempts + 1) {
                    guard let problem = await adapter.dryRun(delivery) else {
                        // Committed with `sending` (next step), not alone.
                        action = try machine.dryRunPassed()
                        continue
                    }
                    failure = problem
                }
                log.info("dry-run failed", metadata: ["kind": "\(failure.kind.name)", "detail": "\(failure.detail)"])
                metrics.failure(kind: surfaceKind, failure: failure.kind.name)
                action = try machine.dryRunFailed(failure, now: now(), using: &rng)
                jobFinished = try await commit(id, machine.state, contract: contract)
            case .beginSend:
                action = try machine.sendStarting()
                if !foldSending { try await commit(id, machine.state, contract: contract) }
            case .send(_, let attempt):
                var failure: DeliveryFailure? = gone
                if let adapter, let delivery = prepared(attempt) {
                    let started = ContinuousClock.now
                    failure = await adapter.send(delivery)
                    metrics.attempt(kind: surfaceKind, ContinuousClock.now - started)
                }
                if let failure, !Task.isCancelled { metrics.failure(kind: surfaceKind, failure: failure.kind.name) }
                if let failure {
                    if Task.isCancelled {
                        // Hard stop mid-send: leave `sending`; the next start resolves it.
                        log.notice("stopped during a send; resolved at the next start")
                        return .stopped
                    }
                    log.info(
                        "send failed", metadata: ["kind": "\(failure.kind.name)", "detail": "\(failure.detail)", "attempt": "\(attempt)"])
                    action = try machine.sendFailed(failure, now: now(), using: &rng)
                    jobFinished = try await commit(id, machine.state, contract: contract)
                } else {
                    action = try machine.sendSucceeded(at: now())
                    // Where `sending` was folded (the receiver drops a repeat by delivery id) the
                    // `delivered` mark needs no sync of its own: lost to a power cut, the part is
                    // sent again under the same id and dropped there. It is on disk with the next
                    // synced commit.
                    jobFinished = try await commit(id, machine.state, contract: contract, durable: !foldSending)
                }
            case .wait(let until):
                // One line per retry: a wake-up a fraction early comes back here for the same time.
                if until != announcedWait {
                    log.info("waiting to retry", metadata: ["next_attempt_at": "\(WireDate.format(until))"])
                    announcedWait = until
                }
                // Rounded up, so the pause does not end before `until` (a truncated one woke early).
                let milliseconds = max(0, (until.timeIntervalSince(now()) * 1000).rounded(.up))
                guard await pause(for: .milliseconds(Int64(milliseconds))) else { return .stopped }
                action = try machine.retryDue(now: now())
                if case .retryWait = machine.state { continue }
                jobFinished = try await commit(id, machine.state, contract: contract)
            case .finished(let outcome, let failure):
                await report(
                    part, attempts: machine.state.attempts, outcome: outcome, failure: failure, surface: surface, contract: contract,
                    logger: log)
                if let jobFinished {
                    recordFinished(jobFinished, now: now(), log: log)
                    return .jobFinished
                }
                return outcome == .delivered ? .delivered : .ended
            }
        }
    }

    /// One transaction for a part's new state, with what a terminal failure implies:
    /// later parts of the same notice are abandoned (a reader must not get part 3 without
    /// part 1), and a `direct` job gets its one fallback notice to the work surface. When the
    /// part ends and no part of the job is left open, the job finishes in the same transaction.
    /// - Returns: the job's outcome if this commit finished it.
    @discardableResult
    private func commit(
        _ id: DeliveryID, _ state: DeliveryState, contract: OwnershipContract, durable: Bool = true
    ) async throws -> Finished? {
        let now = configuration.now()
        let registry = self.registry
        let cache = ledger.contracts
        let ((note, finished), _) = try await ledger.commit(durable: durable) { db -> (String?, Finished?) in
            let note = try Self.record(db, id, state, contract: contract, registry: registry, cache: cache, now: now)
            guard state.outcome != nil else { return (note, nil) }
            return (note, try Self.finish(db, id.job, now: now, cache: cache, onlyIfAllEnded: true))
        }
        if let note { logger.error("direct delivery failed and \(note)", metadata: ["job_id": "\(id.job)"]) }
        return finished
    }

    /// A part's new state and what a terminal failure implies (see `commit`); a note if no
    /// fallback notice was possible.
    private static func record(
        _ db: Database, _ id: DeliveryID, _ state: DeliveryState, contract: OwnershipContract, registry: SurfaceRegistry,
        cache: ContractCache, now: Date
    ) throws -> String? {
        try PartTable.update(db, id, to: state, now: now)
        guard case .failed(_, let failure, _) = state, id.purpose == .final else { return nil }
        for other in try PartTable.parts(db, job: id.job)
        where other.deliveryID.purpose == .final && other.deliveryID.part > id.part && other.state.outcome == nil {
            let abandoned = DeliveryFailure(failure.kind, detail: "not sent: part \(id.part) failed (\(failure.detail))")
            try PartTable.update(
                db, other.deliveryID, to: .failed(attempts: other.state.attempts, failure: abandoned, exhausted: false), now: now)
        }
        guard contract.deliveryMode == .direct, try !PartTable.hasFallback(db, job: id.job) else { return nil }
        guard let decision = try JobTable.load(db, id.job, cache: cache)?.decision else { return nil }
        do {
            let work = try registry.surface(contract.workSurface, role: "work_surface")
            let fallback = FinalNoticePlanner.fallbackDecision(
                for: decision, finalSurfaceName: registry[contract.finalSurface]?.humanName ?? contract.finalSurface.rawValue,
                failure: failure)
            let notices = try FinalNoticePlanner.plan(
                contract: contract, decision: fallback, surface: work,
                originName: registry[contract.origin]?.humanName ?? contract.origin.rawValue, purpose: .fallback,
                createdAt: now)
            // The work surface is reached through bb.progress, whose watchers are not
            // guaranteed to deduplicate: an unknown outcome there is `uncertain`, never resent.
            try PartTable.insert(db, notices: notices, surface: work, deduplicates: false, now: now)
            return nil
        } catch {
            return "no fallback notice possible: \(error)"
        }
    }

    private func report(
        _ part: PartRecord, attempts: Int, outcome: DeliveryOutcome, failure: DeliveryFailure?, surface: Surface?,
        contract: OwnershipContract, logger log: ContextLogger
    ) async {
        let id = part.deliveryID
        let kind = id.purpose == .fallback ? "progress" : (surface?.kind.rawValue ?? "unknown")
        metrics.delivery(outcome, kind: kind, purpose: id.purpose)
        switch outcome {
        // Debug: a job's delivered parts are summed up by its "final delivery finished" line
        // (with the delivery id of the part that finished it); one info line per part was a
        // measurable share of the coordinator's CPU per job (#12).
        case .delivered: log.debug("part delivered", metadata: ["outcome": "\(outcome.rawValue)"])
        case .uncertain:
            log.warning("part outcome uncertain; not re-sent; the parent is told", metadata: Self.partMetadata(outcome, failure))
        case .failed: log.error("part failed", metadata: Self.partMetadata(outcome, failure))
        }
        guard outcome != .delivered, let receipts else { return }
        let receipt = DeliveryReceipt(
            deliveryID: id, totalParts: part.totalParts, surface: part.surfaceID, outcome: outcome,
            attempts: attempts, failure: failure, at: configuration.now())
        do {
            try await receipts.publish(receipt, parentID: contract.parentID)
        } catch {
            log.warning("could not tell the parent about this part; the ledger holds the receipt", metadata: ["error": "\(error)"])
        }
    }

    private static func partMetadata(_ outcome: DeliveryOutcome, _ failure: DeliveryFailure?) -> Logger.Metadata {
        ["outcome": "\(outcome.rawValue)", "failure": "\(failure?.kind.name ?? "")", "detail": "\(failure?.detail ?? "")"]
    }

    /// All parts terminal: the job's lifecycle finishes, with one outcome in words.
    private func finishJob(_ id: JobID, log: ContextLogger) async throws {
        let now = configuration.now()
        let cache = ledger.contracts
        let outcome = try await ledger.write { db in try Self.finish(db, id, now: now, cache: cache, onlyIfAllEnded: false) }
        if let outcome { recordFinished(outcome, now: now, log: log) }
    }

    /// Finishes a delivering job from its parts' outcomes; nil if it is not delivering (or,
    /// with `onlyIfAllEnded`, if a part is still open).
    private static func finish(
        _ db: Database, _ id: JobID, now: Date, cache: ContractCache, onlyIfAllEnded: Bool
    ) throws -> Finished? {
        // Each part's purpose and outcome only (the `state` column names it): no part body or
        // state JSON is read to finish a job.
        let parts = try PartTable.outcomes(db, job: id)
        if onlyIfAllEnded, parts.contains(where: { $0.outcome == nil }) { return nil }
        guard let stored = try JobTable.load(db, id, cache: cache), case .delivering(let contract, let decision, _) = stored.lifecycle.state
        else {
            return nil
        }
        var record = stored
        let finals = parts.filter { $0.purpose == .final }.compactMap(\.outcome)
        let fallbacks = parts.filter { $0.purpose == .fallback }.compactMap(\.outcome)
        let outcome: DeliveryOutcome =
            finals.contains(.failed) ? .failed : finals.contains(.uncertain) ? .uncertain : .delivered
        _ = try record.lifecycle.deliveryFinished()
        record.finalOutcome = outcome.rawValue
        if !fallbacks.isEmpty {
            let fallback: DeliveryOutcome =
                fallbacks.contains(.failed) ? .failed : fallbacks.contains(.uncertain) ? .uncertain : .delivered
            record.finalDetail = "fallback notice to the work surface: \(fallback.rawValue)"
        }
        try JobTable.save(db, record, stored: stored, now: now, cache: cache)
        return Finished(outcome: outcome.rawValue, createdAt: contract.createdAt, kind: decision.kind)
    }

    /// A job finished by a commit: its outcome, and when it was submitted (for submit → final).
    struct Finished: Sendable {
        var outcome: String
        var createdAt: Date
        /// The notice's kind (result, failure, cancelled, lost), for the job's one line at info.
        var kind: FinalNoticeKind
    }

    /// Metric and log line for a job that finished.
    private func recordFinished(_ finished: Finished, now: Date, log: ContextLogger) {
        metrics.submitToFinal(outcome: finished.outcome, seconds: now.timeIntervalSince(finished.createdAt))
        log.info("final delivery finished", metadata: ["outcome": "\(finished.outcome)", "kind": "\(finished.kind.rawValue)"])
    }
}
