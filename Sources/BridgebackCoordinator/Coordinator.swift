public import BridgebackCore
import BridgebackAuth
import BridgebackSQLite
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
/// Feed it inbound message bodies (`handle(_:)` for a group, or `handleContract`,
/// `handleCompletion`, `handleDeadLetter`); each call commits its effect to the ledger before
/// returning the disposition, so the caller acks only what is durable. `run()` delivers: one task per job with a decided
/// final notice, parts in order, so a slow or rate-limited surface delays only its own jobs.
/// Ledger errors are thrown: a coordinator that cannot write its ledger must stop consuming.
public final class Coordinator: Sendable {
    public let ledger: Ledger
    let registry: SurfaceRegistry
    let adapters: AdapterSet
    let receipts: (any ReceiptPublishing)?
    let cancels: (any CancelBroadcasting)?
    let configuration: CoordinatorConfiguration
    let logger: Logger
    let metrics: CoordinatorMetrics
    private let work: AsyncStream<DeliveryWork>
    private let workInput: AsyncStream<DeliveryWork>.Continuation
    /// Jobs with a running delivery task; the value says "look again when done".
    private let active = Mutex<[JobID: Bool]>([:])
    /// The first ledger failure seen off the inbound path (delivery, sweeper); ends `run()`.
    private let failures: AsyncStream<CoordinatorError>
    private let failureInput: AsyncStream<CoordinatorError>.Continuation

    /// - Parameters:
    ///   - receipts: where `failed`/`uncertain` receipts go so the parent is told; nil = ledger only.
    ///   - cancels: where decided cancels go so workers stop the job; nil = ledger only.
    public init(
        ledger: Ledger,
        registry: SurfaceRegistry,
        adapters: AdapterSet,
        receipts: (any ReceiptPublishing)?,
        cancels: (any CancelBroadcasting)? = nil,
        configuration: CoordinatorConfiguration = CoordinatorConfiguration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.ledger = ledger
        self.registry = registry
        self.adapters = adapters
        self.receipts = receipts
        self.cancels = cancels
        self.configuration = configuration
        self.logger = logger
        self.metrics = CoordinatorMetrics(factory: metricsFactory)
        metrics.registerAlertedSeries(surfaceKinds: Set(registry.surfaces.map(\.kind.rawValue)))
        (work, workInput) = AsyncStream.makeStream(of: DeliveryWork.self)
        (failures, failureInput) = AsyncStream.makeStream(of: CoordinatorError.self, bufferingPolicy: .bufferingOldest(1))
    }

    /// A ledger write or read failed where no caller can see it: `run()` throws it, which ends
    /// the service and the process (non-zero exit), and `/health` says the ledger is failing.
    func ledgerFailed(_ error: CoordinatorError) {
        failureInput.yield(error)
    }

    // MARK: Inbound

    /// An inbound message, as the transport received it.
    public enum InboundMessage: Sendable {
        /// A `bridgeback.contract.v1` from `bb.coordinator.contracts`.
        case contract([UInt8])
        /// A `bridgeback.completion.v1`; `publishedBy` is the broker-validated `user_id`, if any.
        case completion([UInt8], publishedBy: String?)
        /// A job message dead-lettered after its delivery limit; `reason` from `x-death`.
        case deadLetter([UInt8], reason: String)
        /// A completion over the message limit, cut while it was read (`JSONStringCutter`):
        /// its result or reason is delivered with a marker naming `fullBytes`.
        case cutCompletion([UInt8], publishedBy: String?, fullBytes: Int)
        /// A contract or dead-lettered job over the message limit: refused unread.
        case oversized(queue: String, bytes: Int)
    }

    /// A lifecycle event for one job, ready for the ledger.
    typealias Event = @Sendable (inout JobLifecycle, Date) throws(BridgebackError) -> JobLifecycle.Action

    /// An inbound message after decoding and checks: its event, or the disposition it already has.
    enum Prepared: Sendable {
        case event(JobID, queue: String, Event)
        case settled(Disposition)
    }

    /// Applies a group of inbound messages (everything one read pass handed over) in one ledger
    /// transaction (a refused message undoes only its own writes), and returns their dispositions in order
    /// once that transaction is durable: the caller acks them all at once, never before.
    public func handle(_ messages: [InboundMessage]) async throws -> [Disposition] {
        try await apply(prepare(messages))
    }

    /// Like `handle`, but the transaction may commit without a sync: the caller must await
    /// `ledger.awaitDurable(generation)` before it acks (or rejects) anything. For contracts,
    /// whose commit then rides on the next synced commit (usually their job's completion, a few
    /// milliseconds later) instead of costing a sync of its own in front of it, and for
    /// completions, whose notice to the parent inbox then goes out while the sync runs. A group
    /// whose commit decided a notice to any other receiver is synced before delivery starts.
    public func handleUnsynced(_ messages: [InboundMessage]) async throws -> (dispositions: [Disposition], generation: UInt64) {
        try await apply(prepare(messages), durable: false)
    }

    private func prepare(_ messages: [InboundMessage]) -> [Prepared] {
        messages.map { message in
            switch message {
            case .contract(let body): prepareContract(body)
            case .completion(let body, let userID): prepareCompletion(body, publishedBy: userID)
            case .deadLetter(let body, let reason): prepareDeadLetter(body, reason: reason)
            case .cutCompletion(let body, let userID, let full): prepareCompletion(body, publishedBy: userID, oversizeBytes: full)
            case .oversized(let queue, let bytes): .settled(refuseOversize(queue: queue, bytes: bytes))
            }
        }
    }

    /// A `bridgeback.contract.v1` from `bb.coordinator.contracts`.
    public func handleContract(_ body: [UInt8]) async throws -> Disposition {
        try await apply([prepareContract(body)])[0]
    }

    /// A `bridgeback.completion.v1` from `bb.coordinator.completions`. Any destination it
    /// claims is dropped by the decoder; the contract alone decides where the answer goes.
    /// - Parameter userID: the broker-validated publisher (`user_id` property), if any.
    /// - Parameter oversizeBytes: set when the message was over `maxMessageBytes`: its full size;
    ///   `body` is then the message with each string cut (`JSONStringCutter`), and the result
    ///   or reason delivered ends with a truncation marker naming the full size.
    public func handleCompletion(_ body: [UInt8], publishedBy userID: String? = nil, oversizeBytes: Int? = nil) async throws -> Disposition
    {
        try await apply([prepareCompletion(body, publishedBy: userID, oversizeBytes: oversizeBytes)])[0]
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
        try await apply([prepareDeadLetter(body, reason: reason)])[0]
    }

    private func prepareContract(_ body: [UInt8]) -> Prepared {
        let contract: OwnershipContract
        do {
            contract = try WireCodec.decode(OwnershipContract.self, from: Data(body))
        } catch {
            return .settled(reject(queue: "contracts", error))
        }
        // The body is the contract's `WireCodec` JSON as admission wrote it: the ledger stores it
        // as is instead of encoding the decoded contract again (the cache is checked against the
        // stored text and the value on every use, so a wrong entry costs a decode, never an error).
        if ledger.contracts[contract.jobID]?.contract == nil {
            ledger.contracts.update(contract.jobID) {
                $0.contractJSON = String(decoding: body, as: UTF8.self)
                $0.contract = contract
            }
        }
        return .event(contract.jobID, queue: "contracts") { lifecycle, _ throws(BridgebackError) in
            try lifecycle.contractReceived(contract, check: Self.capabilityCheck)
        }
    }

    private func prepareCompletion(_ body: [UInt8], publishedBy userID: String?, oversizeBytes: Int? = nil) -> Prepared {
        var completion: Completion
        do {
            completion = try WireCodec.decode(Completion.self, from: Data(body))
        } catch {
            if let oversizeBytes { return .settled(refuseOversize(queue: "completions", bytes: oversizeBytes)) }
            return .settled(reject(queue: "completions", error))
        }
        if let oversizeBytes {
            completion.outcome = Self.markTruncated(completion.outcome, fullBytes: oversizeBytes, limit: configuration.maxMessageBytes)
            logger.warning(
                "completion over the message limit; its text is cut and marked",
                metadata: ["job_id": "\(completion.jobID)", "bytes": "\(oversizeBytes)", "limit": "\(configuration.maxMessageBytes)"])
        }
        let trusted = configuration.trustedCompletionUsers
        if !trusted.isEmpty, !trusted.contains(userID ?? "") {
            let reason = "completion for \(completion.jobID) published by '\(userID ?? "unknown")', not a trusted worker user"
            logger.error("rejected completion", metadata: ["job_id": "\(completion.jobID)", "reason": "\(reason)"])
            metrics.rejected(queue: "completions", reason: "untrusted_publisher")
            return .settled(.reject(reason: reason))
        }
        let received = completion
        return .event(received.jobID, queue: "completions") { lifecycle, now throws(BridgebackError) in
            try lifecycle.completionReceived(received, now: now, check: Self.capabilityCheck)
        }
    }

    private func prepareDeadLetter(_ body: [UInt8], reason: String) -> Prepared {
        let job: JobMessage
        do {
            job = try WireCodec.decode(JobMessage.self, from: Data(body))
        } catch {
            return .settled(reject(queue: "dead-jobs", error))
        }
        return .event(job.jobID, queue: "dead-jobs") { lifecycle, now in
            lifecycle.deadLettered(reason: reason, now: now)
        }
    }

    /// Cancels a job for someone `visible` says may see it (by the contract's origin; a job they
    /// may not see is refused like one whose contract is unknown). One ledger transaction decides
    /// the `cancelled` notice; then the cancel is broadcast to the workers, best effort.
    public func cancel(_ notice: CancelNotice, visible: @escaping @Sendable (String) -> Bool) async throws -> CancelVerdict {
        // The action the transaction committed (the event runs once, inside it).
        let committed = Mutex<JobLifecycle.Action?>(nil)
        _ = try await apply([
            .event(notice.jobID, queue: "cancel") { lifecycle, _ in
                var action = JobLifecycle.Action.refuseCancel(.contractUnknown)
                switch lifecycle.state {
                case .awaitingCompletion(let contract), .delivering(let contract, _, _), .finished(let contract, _, _):
                    if visible(contract.origin.rawValue) { action = lifecycle.cancelRequested(notice) }
                case .awaitingContract, .completionParked:
                    action = lifecycle.cancelRequested(notice)
                }
                committed.withLock { $0 = action }
                return action
            }
        ])
        switch committed.withLock({ $0 }) {
        case .deliverFinal?:
            break
        case .refuseCancel(let refusal)?:
            return .refused(refusal)
        default:
            return .refused(.contractUnknown)
        }
        metrics.cancelled()
        guard let cancels else { return .cancelled(notice, workersTold: false) }
        do {
            try await cancels.broadcast(notice)
            logger.info("cancel sent to the workers", metadata: ["job_id": "\(notice.jobID)"])
            return .cancelled(notice, workersTold: true)
        } catch {
            logger.error(
                "the cancel could not be sent to the workers; a running recipe runs on (its answer is never delivered)",
                metadata: ["job_id": "\(notice.jobID)", "error": "\(error)"])
            return .cancelled(notice, workersTold: false)
        }
    }

    /// One pass of the lost-job sweeper: overdue jobs get their one `lost` notice; parked
    /// endings whose contract never came are reported once. One transaction for the pass.
    public func sweep() async throws {
        let now = configuration.now()
        let (grace, orphanAfter) = (configuration.lostGrace, configuration.orphanAfter)
        let (overdue, orphans) = try await ledger.read { db in
            (try JobTable.overdue(db, now: now, grace: grace), try JobTable.orphans(db, now: now, orphanAfter: orphanAfter))
        }
        _ = try await apply(
            (overdue + orphans).map { id in
                .event(id, queue: "sweeper") { lifecycle, now in
                    lifecycle.sweep(now: now, grace: grace, orphanAfter: orphanAfter)
                }
            })
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
        for id in resumed { workInput.yield(DeliveryWork(id: id, decided: nil)) }
        let failures = self.failures
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Ends with the first failure, or quietly when the loop below ends.
                for await failure in failures { throw failure }
            }
            group.addTask { await self.sweepLoop() }
            group.addTask { await self.pruneLoop() }
            group.addTask {
                // Discarding: a finished delivery's task is freed at once (a plain group keeps
                // every finished child until `next()` reaps it: ~6 KB per job for the process's life).
                await withDiscardingTaskGroup { deliveries in
                    for await item in self.work.cancelOnGracefulShutdown() {
                        // A job already being delivered is looked at again by its task, which
                        // reads the ledger then: a hand-over is only used by the first pass.
                        guard self.claim(item.id) else { continue }
                        // Immediate: the delivery runs on this thread until it first waits (for a
                        // notice to the parent inbox: its publish is handed to the AMQP thread),
                        // instead of being scheduled as a new task first: one hand-off less
                        // between a decision and its send. Same group, so the same lifetime.
                        if #available(macOS 26.0, *) {
                            deliveries.addImmediateTask { await self.deliverClaimed(item.id, decided: item.decided) }
                        } else {
                            deliveries.addTask { await self.deliverClaimed(item.id, decided: item.decided) }
                        }
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

    /// Starts (or re-runs) delivery of `id`. `decided`: the contract and part rows the commit that
    /// decided the notice just wrote, so the delivery starts without reading them back.
    func enqueue(_ id: JobID, decided: DecidedDelivery? = nil) {
        workInput.yield(DeliveryWork(id: id, decided: decided))
    }

    /// A job to deliver, with what its deciding commit wrote when it comes straight from that commit.
    struct DeliveryWork: Sendable {
        var id: JobID
        var decided: DecidedDelivery?
    }

    /// A just-decided notice as committed: the job's contract and its `pending` part rows.
    struct DecidedDelivery: Sendable {
        var contract: OwnershipContract
        var parts: [PartRecord]
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

    private func deliverClaimed(_ id: JobID, decided: DecidedDelivery?) async {
        var decided = decided
        while true {
            await deliverJob(id, decided: decided)
            decided = nil
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

    /// An over-limit message whose fields could not be read (or that may not be cut): refused
    /// to bb.parked, counted, logged with its size.
    public func refuseOversize(queue: String, bytes: Int) -> Disposition {
        reject(
            queue: queue,
            BridgebackError(
                .malformedMessage,
                "a message of \(bytes) bytes is over the \(configuration.maxMessageBytes)-byte limit and was not read whole"))
    }

    /// The outcome of a completion cut to the limit: its text ends with a marker naming the full size.
    static func markTruncated(_ outcome: CompletionOutcome, fullBytes: Int, limit: Int) -> CompletionOutcome {
        func mark(_ text: String) -> String {
            text + "\n\n" + MessageLimits.truncationMarker(fullBytes: fullBytes, limit: limit, keptBytes: text.utf8.count)
        }
        switch outcome {
        case .succeeded(let result): return .succeeded(result: mark(result))
        case .failed(let reason): return .failed(reason: mark(reason))
        case .cancelled: return .cancelled
        }
    }

    private func reject(queue: String, _ error: BridgebackError) -> Disposition {
        logger.error(
            "rejected a message that cannot be processed; it goes to bb.parked",
            metadata: ["queue": "\(queue)", "code": "\(error.code)", "reason": "\(error.message)"])
        metrics.rejected(queue: queue, reason: error.code.description)
        return .reject(reason: error.description)
    }

    /// Lifecycle events in one ledger transaction (a conflicting contract is rejected without
    /// undoing the others), then the effects outside it (metrics,
    /// logs, starting delivery). Ledger errors are thrown and fail the whole group.
    private func apply(_ batch: [Prepared]) async throws -> [Disposition] {
        try await apply(batch, durable: true).dispositions
    }

    /// `apply`, with the commit synced or not (`handleUnsynced`); returns the commit's number
    /// (0 if nothing was written).
    private func apply(_ batch: [Prepared], durable: Bool) async throws -> (dispositions: [Disposition], generation: UInt64) {
        var dispositions: [Disposition] = batch.map { if case .settled(let d) = $0 { d } else { .ack } }
        let events: [(index: Int, id: JobID, queue: String, event: Event)] = batch.enumerated().compactMap { index, prepared in
            if case .event(let id, let queue, let event) = prepared { (index, id, queue, event) } else { nil }
        }
        guard !events.isEmpty else { return (dispositions, 0) }
        let now = configuration.now()
        let registry = self.registry
        let cache = ledger.contracts
        let work = events.map { ($0.id, $0.event) }
        let (steps, generation) = try await ledger.commit(durable: durable) { db -> [Result<LifecycleStep, BridgebackError>] in
            // Read in the transaction (one cached one-row read per group): every prune committed before it is seen.
            let prunedBefore = try Ledger.prunedBefore(db)
            func step(_ id: JobID, _ event: Event) throws -> LifecycleStep {
                try LifecycleStep.commit(db, id, now: now, registry: registry, cache: cache, prunedBefore: prunedBefore, event: event)
            }
            // The pass's events in one savepoint: SQLite copies a page the pass changes into the
            // savepoint journal once, where a savepoint per event copied the same pages once per
            // event. If an event is refused, that savepoint is rolled back and every event runs
            // again in its own (prepared once, not per job as GRDB's `inSavepoint`), so a refused
            // event undoes only its own writes. Events do ledger work only (and fill the value-keyed
            // contract cache), so running one twice does nothing twice.
            if work.count > 1 {
                do {
                    return try GroupTransaction.inSavepoint(db, .item) { try work.map { id, event in .success(try step(id, event)) } }
                } catch is BridgebackError {}
            }
            return try work.map { id, event in
                do {
                    return .success(try GroupTransaction.inSavepoint(db, .item) { try step(id, event) })
                } catch let error as BridgebackError {
                    return .failure(error)
                }
            }
        }
        // A decided notice is sent only once its decision is on disk, unless every part of it
        // goes to a receiver that drops a repeat by delivery id (the parent inbox, whose
        // `sending` mark is folded too): then the send runs alongside the sync. The message
        // that decided it is still settled only once durable (the caller awaits the sync), so
        // a power cut before the sync redelivers it, it is decided again and its parts go out
        // again under the same delivery ids (job, purpose, part), which the inbox drops.
        let syncFirst = steps.contains { result in
            guard case .success(let step) = result, case .deliverFinal = step.action else { return false }
            return !step.parts.allSatisfy { $0.receiverDeduplicates && registry[$0.surfaceID]?.kind == .inbox }
        }
        if !durable && syncFirst { try await ledger.awaitDurable(generation, now: true) }
        for (event, result) in zip(events, steps) {
            switch result {
            case .success(let step): dispositions[event.index] = effects(of: step, id: event.id, queue: event.queue)
            case .failure(let error): dispositions[event.index] = reject(queue: event.queue, error)
            }
        }
        return (dispositions, generation)
    }

    /// What a committed step asks for outside the ledger, and its message's disposition.
    private func effects(of step: LifecycleStep, id: JobID, queue: String) -> Disposition {
        if queue != "sweeper" && queue != "cancel" { metrics.consumed(queue: queue) }
        let log = logger.forJob(id)
        if step.stale {
            // Not applied: the job may have been pruned, and starting it again could give it a
            // second final notice. Parked for people, like every message that cannot be processed.
            // (A cancel is answered as for a job whose contract is unknown.)
            guard queue != "cancel" else {
                log.info("cancel refused: the job is older than the ledger's retention")
                return .ack
            }
            let reason =
                "\(id) is older than the ledger keeps (made \(WireDate.format(id.createdAt))) and not in it: its record was pruned or never came; not processed"
            log.warning(
                "refused a message about a job older than the ledger's retention; it goes to bb.parked", metadata: ["queue": "\(queue)"])
            metrics.rejected(queue: queue, reason: "older_than_retention")
            return .reject(reason: reason)
        }
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
            // At debug when parts follow: the job's "final delivery finished" line (kind, outcome,
            // surface and delivery id) is its one line at info; the ledger keeps the decision. One
            // more line per job was ~2–3 % of the coordinator's CPU per job (#12, sixth pass).
            log.log(
                level: step.plannedParts > 0 ? .debug : .info, "final notice decided",
                metadata: [
                    "kind": "\(decision.kind.rawValue)", "surface": "\(contract.finalSurface)",
                    "mode": "\(contract.deliveryMode.rawValue)", "parts": "\(step.plannedParts)",
                ])
            if let note = step.note { log.error("final notice not deliverable", metadata: ["reason": "\(note)"]) }
            if step.plannedParts > 0 {
                enqueue(id, decided: DecidedDelivery(contract: contract, parts: step.parts))
            } else {
                // Nothing to send (suppressed, or not deliverable): the job ended with the decision.
                log.info(
                    "final delivery finished",
                    metadata: ["outcome": "\(contract.deliveryMode == .suppressed ? "suppressed" : "undeliverable")"])
            }
        case .reportOrphan(let since):
            log.warning(
                "a completion has waited for its contract since \(WireDate.format(since)); check admission's outbox",
                metadata: ["parked_since": "\(WireDate.format(since))"])
        case .rejectForged(let reason):
            metrics.rejected(queue: queue, reason: "forged_completion")
            log.error(
                "rejected a completion without the job's capability; it goes to bb.parked",
                metadata: ["queue": "\(queue)", "reason": "\(reason)"])
            return .reject(reason: reason)
        case .refuseCancel(let refusal):
            log.info("cancel refused", metadata: ["reason": "\(refusal)"])
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
