import BridgebackCore
import Foundation
import Logging

// Ledger retention (`configuration.retention`, a `Retention`).
//
// A job is pruned once it was made (by its id's time) more than `keep` ago and nothing about it
// is open: finished (every part of its final notice settled), or an ending whose contract never
// came that was already reported as an orphan. Jobs still running or delivering are kept whatever
// their age.
//
// Pruning must not cost a job its exactly-once: a contract or completion of a pruned job could
// still arrive (a redelivery, an outbox replayed after a long outage) and would start it again.
// So the ledger records how far it has pruned (`ledger_retention.pruned_before_ms`, in the
// prune's own transaction) and refuses, to `bb.parked`, any message about a job it does not know
// that was made before that mark (`LifecycleStep`). The mark only moves forward: raising `keep`
// later does not let a pruned job in again.

extension Coordinator {
    /// One pruning pass: deletes, batch by batch, every job `configuration.retention` lets go of.
    /// Returns how many jobs it deleted.
    @discardableResult
    public func prune() async throws -> Int {
        let retention = configuration.retention
        guard let before = retention.cutoffMilliseconds(now: configuration.now()) else { return 0 }
        var total = 0
        while true {
            let deleted = try await ledger.prune(before: before, limit: retention.batch)
            total += deleted
            metrics.pruned(deleted)
            if deleted < retention.batch || Task.isCancelled || Task.isShuttingDownGracefully { break }
        }
        if total > 0 {
            logger.info(
                "pruned jobs the ledger is done with",
                metadata: ["jobs": "\(total)", "made_before": "\(WireDate.format(Date(timeIntervalSince1970: Double(before) / 1000)))"])
        }
        return total
    }

    /// Prunes every `retention.interval` until shutdown, the first time one interval after the
    /// start (a start has enough to do); a ledger failure stops the coordinator like the sweeper's.
    func pruneLoop() async {
        guard configuration.retention.keep != nil else { return }
        while await pause(for: configuration.retention.interval) {
            do {
                try await prune()
            } catch {
                logger.critical("pruning cannot use the ledger; the coordinator stops", metadata: ["error": "\(error)"])
                ledgerFailed(error as? CoordinatorError ?? CoordinatorError(.ledgerUnavailable, "pruning the ledger failed: \(error)"))
                return
            }
        }
    }
}
