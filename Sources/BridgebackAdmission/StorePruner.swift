public import BridgebackAdmissionStore
import BridgebackCore
import Foundation
import Logging
public import ServiceLifecycle

/// Prunes admission's store on a `Retention` schedule: jobs whose messages were all published,
/// request-log lines and contract refusals, once older than `retention.keep`
/// (`AdmissionStore.prune(before:limit:)`). A swift-service-lifecycle `Service` in admission's group.
///
/// A failed pass is logged and tried again at the next interval: pruning is housekeeping, and the
/// store's health shows on every submit and on `/health` anyway.
public struct StorePruner: Service {
    let store: AdmissionStore
    let retention: Retention
    let logger: Logger
    let metrics: AdmissionMetrics
    let now: @Sendable () -> Date

    init(
        store: AdmissionStore, retention: Retention, logger: Logger, metrics: AdmissionMetrics,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.retention = retention
        self.logger = logger
        self.metrics = metrics
        self.now = now
    }

    public func run() async throws {
        guard retention.keep != nil else { return }
        while await pause() {
            do {
                try await pass()
            } catch {
                logger.error("pruning admission's store failed; trying again at the next interval", metadata: ["error": "\(error)"])
            }
        }
    }

    /// One pass: transactions of `retention.batch` records each until fewer are left.
    @discardableResult
    public func pass() async throws -> PrunedRecords {
        guard let cutoff = retention.cutoff(now: now()) else { return PrunedRecords() }
        var total = PrunedRecords()
        while true {
            let pruned = try await store.prune(before: cutoff, limit: retention.batch)
            total.jobs += pruned.jobs
            total.requests += pruned.requests
            total.refusals += pruned.refusals
            metrics.pruned(pruned)
            if !pruned.reached(retention.batch) || Task.isCancelled || Task.isShuttingDownGracefully { break }
        }
        if total != PrunedRecords() {
            logger.info(
                "pruned admission records",
                metadata: [
                    "jobs": "\(total.jobs)", "requests": "\(total.requests)", "refusals": "\(total.refusals)",
                    "made_before": "\(WireDate.format(cutoff))",
                ])
        }
        return total
    }

    /// Sleeps one interval; false if cancelled or shutting down meanwhile.
    private func pause() async -> Bool {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: retention.interval) }
            return !Task.isCancelled && !Task.isShuttingDownGracefully
        } catch {
            return false
        }
    }
}
