import BridgebackCore
import Foundation
import GRDB

/// One `JobLifecycle` event applied inside one ledger transaction.
///
/// When the event decides the final notice, the notice is planned (split for the final
/// surface) and its part rows are written in the same transaction: "decided" and "has
/// parts to deliver" can never be observed apart, also across a crash.
struct LifecycleStep: Sendable {
    var action: JobLifecycle.Action
    var state: String
    /// Part rows written for a `deliverFinal` (0 for suppressed or undeliverable).
    var plannedParts: Int { parts.count }
    /// Those rows as written (handed to the delivery task, which so need not read them back).
    var parts: [PartRecord] = []
    /// Why a decided notice could not be planned, if so.
    var note: String?
    /// Parked completions this event found without the job's capability and discarded.
    var forgeriesDiscarded = 0
    /// The job is not in the ledger and was made before its pruned-before mark: its record may
    /// have been pruned (`LedgerRetention.swift`), so the event was not applied and nothing was written.
    var stale = false

    /// Applies `event` to the job's stored lifecycle and saves the result. `prunedBefore`: the
    /// ledger's pruned-before mark (Unix ms); an unknown job made before it is not started again
    /// (a redelivered contract of a pruned job would otherwise get a second final notice).
    static func commit(
        _ db: Database, _ id: JobID, now: Date, registry: SurfaceRegistry, cache: ContractCache? = nil, prunedBefore: UInt64 = 0,
        event: (inout JobLifecycle, Date) throws(BridgebackError) -> JobLifecycle.Action
    ) throws -> LifecycleStep {
        let stored = try JobTable.load(db, id, cache: cache)
        if stored == nil && id.milliseconds < prunedBefore {
            return LifecycleStep(action: .none, state: "pruned", stale: true)
        }
        var record = stored ?? JobRecord(lifecycle: JobLifecycle(jobID: id), finalOutcome: nil, finalDetail: nil, orphanReported: false)
        let action = try event(&record.lifecycle, now)
        var step = LifecycleStep(action: action, state: "")
        switch action {
        case .deliverFinal(let contract, let decision):
            (step.parts, step.note) = try plan(db, &record, contract: contract, decision: decision, registry: registry, now: now)
        case .reportOrphan:
            record.orphanReported = true
        case .none, .parked, .acknowledgeDuplicate, .rejectForged, .refuseCancel:
            break
        }
        step.forgeriesDiscarded = record.lifecycle.forgeriesDiscarded
        // An event that changed nothing on a row we never stored (none) still records the job.
        try JobTable.save(db, record, stored: stored, now: now, cache: cache)
        step.state = record.lifecycle.state.name
        return step
    }

    /// Writes the part rows for the final notice, or finishes the job at once when nothing
    /// is to be sent (suppressed) or nothing can be (surface gone, limit too small).
    private static func plan(
        _ db: Database, _ record: inout JobRecord, contract: OwnershipContract,
        decision: JobLifecycle.FinalDecision, registry: SurfaceRegistry, now: Date
    ) throws -> ([PartRecord], String?) {
        if contract.deliveryMode == .suppressed {
            _ = try record.lifecycle.deliveryFinished()
            record.finalOutcome = "suppressed"
            record.finalDetail = "kept with the job, not sent (suppressed)"
            return ([], nil)
        }
        let notices: [FinalNotice]
        let surface: Surface
        do {
            surface = try registry.surface(contract.finalSurface, role: "final_surface")
            notices = try FinalNoticePlanner.plan(
                contract: contract, decision: decision, surface: surface,
                originName: registry[contract.origin]?.humanName ?? contract.origin.rawValue, createdAt: now)
        } catch {
            _ = try record.lifecycle.deliveryFinished()
            record.finalOutcome = "undeliverable"
            record.finalDetail = error.message
            return ([], error.description)
        }
        return (try PartTable.insert(db, notices: notices, surface: surface, deduplicates: surface.deduplicates, now: now), nil)
    }
}
