public import BridgebackCore
import BridgebackAuth
public import Metrics
import Foundation
public import Logging
import ServiceLifecycle
import Synchronization

/// What the transport should do with an inbound message, once its effect is committed.
public enum Disposition: Sendable, Hashable {
    /// The ledger holds its effect (or it was a harmless duplicate): acknowledge.
    case ack
    /// It can never be processed (malformed, unknown schema, untrusted, conflicting): reject
    /// without requeue so the broker dead-letters it to `bb.parked` for a person to inspect.
    case reject(reason: String)
}

/// The single owner of final delivery, above the transport.
///
/// Feed it inbound message bodies (`handleContract`, `handleCompletion`, `handleDeadLetter`);
/// each call commits its effect to the ledger before returning the disposition, so the
/// caller acks only what is durable. `run()` delivers: one task per job with a decided
/// final notice, parts in order, so a slow or rate-limited surface delays only its own jobs.
/// Ledger errors are thrown: a coordinator that cannot write its ledger must stop consuming.
public final class Coordinator: Sendable {
    public let ledger: Ledger
    let registry: SurfaceRegistry
    let adapters: AdapterSet
    let receipts: (any ReceiptPublishing)?
    let configuration: CoordinatorConfiguration
    let logger: Logger
    let metrics: CoordinatorMetrics
    private let work: AsyncStream<JobID>
    private let workInput: AsyncStream<JobID>.Continuation
    /// Jobs with a running delivery task; the value says "look again when done".
    private let active = Mutex<[JobID: Bool]>([:])
    /// The first ledger failure seen off the inbound path (delivery, sweeper); ends `run()`.
    private let failures: AsyncStream<CoordinatorError>
    private let failureInput: AsyncStream<CoordinatorError>.Continuation

    /// - Parameters:
    ///   - receipts: where `failed`/`uncertain` receipts go so the parent is told; nil = ledger only.
    public init(
        ledger: Ledger,
        registry: SurfaceRegistry,
        adapters: AdapterSet,
        receipts: (any ReceiptPublishing)?,
        configuration: CoordinatorConfiguration = CoordinatorConfiguration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.ledger = ledger
        self.registry = registry
        self.adapters = adapters
        self.receipts = receipts
        self.configuration = configuration
        self.logger = logger
        self.metrics = CoordinatorMetrics(factory: metricsFactory)
        (work, workInput) = AsyncStream.makeStream(of: JobID.self)
        (failures, failureInput) = AsyncStream.makeStream(of: CoordinatorError.self, bufferingPolicy: .bufferingOldest(1))
    }

    /// A ledger write or read failed where no caller can see it: `run()` throws it, which ends
    /// the service and the process (non-zero exit), and `/health` says the ledger is failing.
    func ledgerFailed(_ error: CoordinatorError) {
        failureInput.yield(error)
    }

    // MARK: Inbound

    /// A `bridgeback.contract.v1` from `bb.coordinator.contracts`.
    public func handleContract(_ body: [UInt8]) async throws -> Disposition {
        let contract: OwnershipContract
        do {
            contract = try WireCodec.decode(OwnershipContract.self, from: Data(body))
        } catch {
            return reject(queue: "contracts", error)
        }
        return try await apply(contract.jobID, queue: "contracts") { lifecycle, _ throws(BridgebackError) in
            try lifecycle.contractReceived(contract, check: Self.capabilityCheck)
        }
    }

    /// A `bridgeback.completion.v1` from `bb.coordinator.completions`. Any destination it
    /// claims is dropped by the decoder; the contract alone decides where the answer goes.
    /// - Parameter userID: the broker-validated publisher (`user_id` property), if any.
    public func handleCompletion(_ body: [UInt8], publishedBy userID: String? = nil) async throws -> Disposition {
        let completion: Completion
        do {
            completion = try WireCodec.decode(Completion.self, from: Data(body))
        } catch {
            return reject(queue: "completions", error)
        }
        let trusted = configuration.trustedCompletionUsers
        if !trusted.isEmpty, !trusted.contains(userID ?? "") {
            let reason = "completion for \(completion.jobID) published by '\(userID ?? "unknown")', not a trusted worker user"
            logger.error("rejected completion", metadata: ["job_id": "\(completion.jobID)", "reason": "\(reason)"])
            metrics.rejected(queue: "completions", reason: "untrusted_publisher")
            return .reject(reason: reason)
        }
        return try await apply(completion.jobID, queue: "completions") { lifecycle, now throws(BridgebackError) in
            try lifecycle.completionReceived(completion, now: now, check: Self.capabilityCheck)
        }
    }

    /// A completion is the job's own when the SHA-256 of the capability it echoes is the
    /// contract's (constant time). A contract admitted before capabilities existed has none and
    /// accepts any completion; admission mints one for every job now.
    static let capabilityCheck: JobLifecycle.CompletionCheck = { completion, contract in
        guard let expected = contract.completionCapabilitySHA256 else { return true }
        return CompletionCapability.matches(presented: completion.capability, sha256: expected)
    }

    /// A job message dead-lettered after its delivery limit (`bb.coordinator.dead-jobs`):
    /// the job crashed its workers every time and ends as one `failure` notice.
    /// - Parameter reason: what the broker said (from `x-death`), for the notice text.
    public func handleDeadLetter(_ body: [UInt8], reason: String) async throws -> Disposition {
        let job: JobMessage
        do {
            job = try WireCodec.decode(JobMessage.self, from: Data(body))
        } catch {
            return reject(queue: "dead-jobs", error)
        }
        return try await apply(job.jobID, queue: "dead-jobs") { lifecycle, now in
            lifecycle.deadLettered(reason: reason, now: now)
        }
    }

    /// One pass of the lost-job sweeper: overdue jobs get their one `lost` notice; parked
    /// endings whose contract never came are reported once.
    public func sweep() async throws {
        let now = configuration.now()
        let (grace, orphanAfter) = (configuration.lostGrace, configuration.orphanAfter)
        let (overdue, orphans) = try await ledger.read { db in
            (try JobTable.overdue(db, now: now, grace: grace), try JobTable.orphans(db, now: now, orphanAfter: orphanAfter))
        }
        for id in overdue + orphans {
            _ = try await apply(id, queue: "sweeper") { lifecycle, now in
                lifecycle.sweep(now: now, grace: grace, orphanAfter: orphanAfter)
            }
        }
        let (jobs, parts, oldest) = try await ledger.stateCounts(now: configuration.now())
        metrics.ledgerCounts(jobs: jobs, parts: parts, oldestAwaitingCompletion: oldest)
    }

    // MARK: Running

    /// Delivers until cancelled or a graceful shutdown: resumes every job the ledger has in
    /// `delivering`, runs the sweeper, and starts a delivery task per newly decided job.
    /// In-flight sends finish on a graceful shutdown; waits end at once. Call once.
    /// A ledger failure in delivery or the sweeper ends it by throwing (`ledger_unavailable`).
    public func run() async throws {
        let resumed = try await ledger.jobsDelivering()
        if !resumed.isEmpty { logger.info("resuming deliveries", metadata: ["jobs": "\(resumed.count)"]) }
        for id in resumed { workInput.yield(id) }
        let failures = self.failures
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Ends with the first failure, or quietly when the loop below ends.
                for await failure in failures { throw failure }
            }
            group.addTask { await self.sweepLoop() }
            group.addTask {
                await withTaskGroup(of: Void.self) { deliveries in
                    for await id in self.work.cancelOnGracefulShutdown() {
                        guard self.claim(id) else { continue }
                        deliveries.addTask { await self.deliverClaimed(id) }
                    }
                }
                self.failureInput.finish()
            }
            defer { group.cancelAll() }
            for try await _ in group {
                // The sweeper ends on shutdown; deliveries end on shutdown; either alone is not the end.
            }
        }
    }

    func enqueue(_ id: JobID) {
        workInput.yield(id)
    }

    /// Marks `id` active; if a task already delivers it, asks that task to look again instead.
    private func claim(_ id: JobID) -> Bool {
        active.withLock { active in
            if active[id] != nil {
                active[id] = true
                return false
            }
            active[id] = false
            return true
        }
    }

    private func deliverClaimed(_ id: JobID) async {
        while true {
            await deliverJob(id)
            let again = active.withLock { active in
                if active[id] == true && !Task.isCancelled && !Task.isShuttingDownGracefully {
                    active[id] = false
                    return true
                }
                active[id] = nil
                return false
            }
            if !again { return }
        }
    }

    private func sweepLoop() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await sweep()
            } catch let error as CoordinatorError {
                logger.critical("the lost-job sweep cannot use the ledger; the coordinator stops", metadata: ["error": "\(error)"])
                ledgerFailed(error)
                return
            } catch {
                logger.critical("the lost-job sweep cannot use the ledger; the coordinator stops", metadata: ["error": "\(error)"])
                ledgerFailed(CoordinatorError(.ledgerUnavailable, "the lost-job sweep failed: \(error)"))
                return
            }
            guard await pause(for: configuration.sweepInterval) else { return }
        }
    }

    /// Sleeps; false if cancelled or shutting down meanwhile.
    func pause(for duration: Duration) async -> Bool {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
            return !Task.isCancelled && !Task.isShuttingDownGracefully
        } catch {
            return false
        }
    }

    // MARK: Helpers

    private func reject(queue: String, _ error: BridgebackError) -> Disposition {
        logger.error(
            "rejected a message that cannot be processed; it goes to bb.parked",
            metadata: ["queue": "\(queue)", "code": "\(error.code)", "reason": "\(error.message)"])
        metrics.rejected(queue: queue, reason: error.code.description)
        return .reject(reason: error.description)
    }

    /// One lifecycle event as one transaction, then the effects outside it (metrics, logs,
    /// starting delivery). A conflicting contract is rejected; ledger errors are thrown.
    private func apply(
        _ id: JobID, queue: String,
        _ event: @escaping @Sendable (inout JobLifecycle, Date) throws(BridgebackError) -> JobLifecycle.Action
    ) async throws -> Disposition {
        let now = configuration.now()
        let registry = self.registry
        let step: LifecycleStep
        do {
            step = try await ledger.write { db in
                try LifecycleStep.commit(db, id, now: now, registry: registry, event: event)
            }
        } catch let error as BridgebackError {
            return reject(queue: queue, error)
        }
        if queue != "sweeper" { metrics.consumed(queue: queue) }
        var log = logger
        log[metadataKey: "job_id"] = "\(id)"
        switch step.action {
        case .none:
            log.debug("recorded", metadata: ["queue": "\(queue)", "state": "\(step.state)"])
        case .parked:
            metrics.parked()
            log.info("ending parked until its contract arrives", metadata: ["queue": "\(queue)"])
        case .acknowledgeDuplicate(let count):
            metrics.duplicate()
            log.notice("duplicate ending acknowledged, not delivered", metadata: ["queue": "\(queue)", "duplicates": "\(count)"])
        case .deliverFinal(let contract, let decision):
            if decision.kind == .lost { metrics.lost() }
            log.info(
                "final notice decided",
                metadata: [
                    "kind": "\(decision.kind.rawValue)", "surface": "\(contract.finalSurface)",
                    "mode": "\(contract.deliveryMode.rawValue)", "parts": "\(step.plannedParts)",
                ])
            if let note = step.note { log.error("final notice not deliverable", metadata: ["reason": "\(note)"]) }
            if step.plannedParts > 0 {
                enqueue(id)
            } else {
                // Nothing to send (suppressed, or not deliverable): the job ended with the decision.
                log.info("final delivery finished", metadata: ["outcome": "\(contract.deliveryMode == .suppressed ? "suppressed" : "undeliverable")"])
            }
        case .reportOrphan(let since):
            log.warning(
                "a completion has waited for its contract since \(WireDate.format(since)); check admission's outbox",
                metadata: ["parked_since": "\(WireDate.format(since))"])
        case .rejectForged(let reason):
            metrics.rejected(queue: queue, reason: "forged_completion")
            log.error("rejected a completion without the job's capability; it goes to bb.parked", metadata: ["queue": "\(queue)", "reason": "\(reason)"])
            return .reject(reason: reason)
        }
        if step.forgeriesDiscarded > 0 {
            for _ in 0..<step.forgeriesDiscarded { metrics.rejected(queue: queue, reason: "forged_completion") }
            log.error(
                "discarded parked completions without the job's capability (forged, or meant for another job); never delivered",
                metadata: ["count": "\(step.forgeriesDiscarded)"])
        }
        return .ack
    }
}
