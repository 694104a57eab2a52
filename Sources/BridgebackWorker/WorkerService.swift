public import BridgebackCore
import Foundation
public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Knobs of one worker process.
public struct WorkerConfiguration: Sendable {
    /// The pool this worker serves (queue `bb.jobs.<pool>`).
    public var pool: String
    /// Jobs run at once; also the broker prefetch, so no job waits in a busy worker's buffer.
    public var slots: Int
    /// Minimum gap between routine progress updates of one job (state changes are never held back).
    public var progressInterval: Duration
    /// After SIGTERM, how long running jobs may take before they are stopped and requeued.
    public var shutdownGracePeriod: Duration
    /// Shown in progress and completions ("host/pid").
    public var workerName: String
    /// The broker's `consumer_timeout`, in seconds (`BRIDGEBACK_CONSUMER_TIMEOUT_MS` from
    /// deploy/limits.env): a job whose deadline cannot fit under it, less `heldMargin`, is a long
    /// job, acknowledged as it starts (``JobAcknowledgement``).
    public var consumerTimeout: Double
    /// What a held job needs under the timeout besides its run (stopping it, publishing its completion).
    public var heldMargin: Double

    public init(
        pool: String = "default", slots: Int = 4, progressInterval: Duration = .seconds(5),
        shutdownGracePeriod: Duration = .seconds(30), workerName: String = WorkerConfiguration.defaultWorkerName,
        consumerTimeout: Double = JobLimits.brokerConsumerTimeoutSeconds, heldMargin: Double = JobLimits.heldMarginSeconds
    ) {
        self.pool = pool
        self.slots = max(1, slots)
        self.progressInterval = progressInterval
        self.shutdownGracePeriod = shutdownGracePeriod
        self.workerName = workerName
        self.consumerTimeout = consumerTimeout
        self.heldMargin = heldMargin
    }

    /// `host/pid`.
    public static var defaultWorkerName: String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)"
    }
}

/// The stateless worker: takes jobs from its pool, runs their recipes (at most `slots` at once),
/// publishes sparse progress, and publishes each completion with a confirm before acking the job.
///
/// At-least-once by construction: a job is acked only after its completion is confirmed; a
/// failed completion publish, a crash, or a shutdown past the grace period leaves the job to be
/// delivered again (the coordinator deduplicates completions).
///
/// Except a *long job* (its deadline cannot fit under the broker's `consumer_timeout`, which would
/// requeue it mid-run): it is acked as it starts, after which a confirmed `started` event shows the
/// connection carried the ack, and it runs at most once. A crash leaves it to the coordinator's
/// lost-job sweeper (`lost`); a shutdown past the grace period ends it with a failed completion.
///
/// On graceful shutdown it stops starting jobs and returns the ones it has not started, lets
/// running jobs finish for `shutdownGracePeriod`, then stops the rest and nack-requeues them.
/// The consumer is cancelled only after that: with this AMQP layer cancelling closes the channel,
/// which would requeue running jobs at once (another worker would start them) and void their acks.
public struct WorkerService<Source: JobSource, Publisher: WorkerPublishing>: Service {
    public let configuration: WorkerConfiguration
    let source: Source
    let publisher: Publisher
    let runner: RecipeRunner
    let logger: Logger
    let metrics: WorkerMetrics
    let cancels: (any CancelSource)?
    let watch = CancelWatch()

    /// - Parameter cancels: where decided cancels come from (`AMQPCancelSource`); nil: this
    ///   worker never stops a job on request (tests of other behaviour).
    public init(
        configuration: WorkerConfiguration, source: Source, publisher: Publisher, runner: RecipeRunner,
        logger: Logger, metricsFactory: any MetricsFactory = MetricsSystem.factory, cancels: (any CancelSource)? = nil
    ) {
        self.cancels = cancels
        self.configuration = configuration
        self.source = source
        self.publisher = publisher
        self.runner = runner
        var logger = logger
        logger[metadataKey: "pool"] = "\(configuration.pool)"
        self.logger = logger
        self.metrics = WorkerMetrics(pool: configuration.pool, factory: metricsFactory)
    }

    typealias Delivery = Source.Jobs.Element

    enum Event: Sendable {
        case delivery(Delivery)
        case jobFinished
        case streamEnded((any Error)?)
        case shutdown
        case graceExpired
    }

    public func run() async throws {
        // Cancels first, so the retained ones are (almost always) known before the first job arrives.
        let cancelFeed = try await cancels?.open()
        let jobs = try await source.open(prefetch: configuration.slots)
        metrics.slots.record(configuration.slots)
        metrics.running.record(0)
        logger.info(
            "worker started",
            metadata: [
                "slots": "\(configuration.slots)", "worker": "\(configuration.workerName)",
                "consumer_timeout_s": "\(configuration.consumerTimeout)",
            ])
        let (events, sink) = AsyncStream<Event>.makeStream()
        let graceExpired = Signal()
        let failure: (any Error)? = await withGracefulShutdownHandler {
            // Discarding: a finished job's child task is freed at once. A plain task group keeps
            // every finished child until `next()` reaps it, and this loop never calls it, so each
            // job used to stay resident (its task and stack allocator slab, ~6 KB) for the
            // worker's lifetime (issue #12: RSS grew with every consumed message).
            await withDiscardingTaskGroup(returning: (any Error)?.self) { group -> (any Error)? in
                if let cancelFeed {
                    group.addTask { await follow(cancelFeed) }
                }
                group.addTask {
                    do {
                        for try await delivery in jobs { sink.yield(.delivery(delivery)) }
                        sink.yield(.streamEnded(nil))
                    } catch {
                        sink.yield(.streamEnded(error))
                    }
                }
                var pending: [Delivery] = []
                var active = 0
                var stopping = false
                var failure: (any Error)?
                loop: for await event in events {
                    switch event {
                    case .delivery(let delivery):
                        if stopping {
                            delivery.nack(requeue: true)
                        } else {
                            pending.append(delivery)
                        }
                    case .jobFinished:
                        active -= 1
                        metrics.running.record(active)
                    case .streamEnded(let error):
                        if !stopping {
                            failure =
                                error
                                ?? WorkerError(.invalidConfiguration, "the job consumer on pool '\(configuration.pool)' ended unexpectedly")
                            logger.error("job consumer ended; finishing running jobs and stopping", metadata: ["error": "\(failure!)"])
                        }
                        stopping = true
                        pending.removeAll()  // their channel is gone; the broker has them again
                    case .shutdown:
                        guard !stopping else { break }
                        stopping = true
                        logger.info(
                            "graceful shutdown: no new jobs; waiting for running ones",
                            metadata: [
                                "running": "\(active)", "returned": "\(pending.count)",
                                "grace_seconds": "\(configuration.shutdownGracePeriod.components.seconds)",
                            ])
                        for delivery in pending { delivery.nack(requeue: true) }
                        metrics.requeued.increment(by: Int64(pending.count))
                        pending.removeAll()
                        let grace = configuration.shutdownGracePeriod
                        group.addTask {
                            guard (try? await Task.sleep(for: grace)) != nil else { return }
                            sink.yield(.graceExpired)
                        }
                    case .graceExpired:
                        if active > 0 {
                            logger.warning("grace period over; stopping and requeueing running jobs", metadata: ["running": "\(active)"])
                        }
                        graceExpired.fire()
                    }
                    while !stopping, active < configuration.slots, !pending.isEmpty {
                        let delivery = pending.removeFirst()
                        active += 1
                        metrics.running.record(active)
                        // Immediate: the job runs on this thread until it first waits (for a job run
                        // in process, until its completion is handed to the AMQP thread) instead of
                        // being scheduled as a new task first: one hand-off less per job.
                        if #available(macOS 26.0, *) {
                            group.addImmediateTask {
                                await handle(delivery, interrupted: graceExpired)
                                sink.yield(.jobFinished)
                            }
                        } else {
                            group.addTask {
                                await handle(delivery, interrupted: graceExpired)
                                sink.yield(.jobFinished)
                            }
                        }
                    }
                    if stopping, active == 0 { break loop }
                }
                // Outer cancellation ends the event loop early; tell running jobs to give their messages back.
                graceExpired.fire()
                for delivery in pending { delivery.nack(requeue: true) }
                await jobs.cancel()
                group.cancelAll()
                return failure
            }
        } onGracefulShutdown: {
            sink.yield(.shutdown)
        }
        sink.finish()
        logger.info("worker stopped")
        if let failure { throw failure }
    }

    /// Records every cancel; one for a job running here stops it. If the feed fails the worker
    /// runs on without it (the coordinator still never delivers a cancelled job's answer).
    func follow(_ feed: AsyncThrowingStream<CancelNotice, any Error>) async {
        do {
            for try await notice in feed {
                if watch.record(notice) {
                    logger.notice(
                        "cancel received; stopping the running job",
                        metadata: ["job_id": "\(notice.jobID)", "requested_by": "\(notice.requestedBy)"])
                }
            }
        } catch {
            if !Task.isCancelled {
                logger.error(
                    "the cancel feed (bb.cancels) ended; running jobs can no longer be cancelled here", metadata: ["error": "\(error)"])
            }
        }
    }

    // MARK: One job

    enum RunOutcome: Sendable {
        case finished(CompletionOutcome)
        case interrupted
    }

    /// Decode, validate, run under the deadline, publish the completion, settle the delivery.
    func handle(_ delivery: Delivery, interrupted: Signal) async {
        let job: JobMessage
        do {
            job = try WireCodec.decode(JobMessage.self, from: Data(delivery.body))
        } catch {
            logger.error(
                "rejecting a job message that does not decode; it goes to the dead-letter queue",
                metadata: ["reason": "\(error.description)", "attempt": "\(delivery.attempt)"])
            metrics.rejected.increment()
            delivery.reject(requeue: false)
            return
        }
        // Both keys in one handler update (swift-log's `StreamLogHandler`, used where a process
        // bootstraps no other handler, renders its metadata again per key set).
        var logger = self.logger
        var handler = logger.handler
        handler.metadata.merge(["job_id": "\(job.jobID)", "recipe": "\(job.recipe.name)"]) { _, new in new }
        logger.handler = handler
        guard let cancelled = watch.begin(job.jobID) else {
            // The coordinator already decided this job's one `cancelled` notice: never start it.
            let notice = watch.cancel(of: job.jobID)
            logger.notice("job cancelled before it started; not run", metadata: ["requested_by": "\(notice?.requestedBy ?? "")"])
            metrics.cancelledBeforeStart.increment()
            delivery.ack()
            let progress = JobProgress(
                job: job, attempt: delivery.attempt, configuration: configuration, publisher: publisher, logger: logger)
            await progress.publish(.finished, "cancelled before it started; not run", stateChange: true)
            return
        }
        defer { watch.end(job.jobID) }
        let startedAt = Date()
        let clock = ContinuousClock()
        let started = clock.now
        let progress = JobProgress(
            job: job, attempt: delivery.attempt, configuration: configuration, publisher: publisher, logger: logger, metrics: metrics)
        metrics.started.increment()
        if delivery.attempt > 1 { metrics.redeliveries.increment() }
        logger.info("job started", metadata: ["attempt": "\(delivery.attempt)"])

        let outcome: RunOutcome
        var acknowledgement = JobAcknowledgement.afterCompletion
        /// A held job's "started" event, published alongside the job and awaited only after its
        /// completion is settled: neither the run nor the completion waits for that confirm.
        var startedSent: Task<Void, Never>?
        do {
            let (recipe, values) = try runner.prepare(job.recipe)
            if job.deadline <= startedAt {
                outcome = .finished(
                    .failed(reason: "deadline exceeded: the job's deadline \(WireDate.format(job.deadline)) had passed before it started"))
            } else {
                let options: JSONValue = if case .custom(_, let options) = recipe.kind { options } else { .object([:]) }
                var context = JobContext(
                    jobID: job.jobID, recipe: recipe, parameters: values, options: options, deadline: job.deadline,
                    attempt: delivery.attempt, logger: logger, progress: progress.reporter)
                context.cancelSignal = cancelled
                let startedEvent = progress.event(
                    .started, "started: \(job.summary) (recipe \(recipe.name), attempt \(delivery.attempt))", stateChange: true)
                acknowledgement = JobAcknowledgement.decide(
                    remaining: job.deadline.timeIntervalSince(startedAt), consumerTimeout: configuration.consumerTimeout,
                    margin: configuration.heldMargin)
                if acknowledgement == .atStart {
                    outcome = await runLong(context, delivery: delivery, started: startedEvent, interrupted: interrupted, logger: logger)
                } else {
                    // The job does not wait for the "started" confirm: it is published alongside
                    // (progress is best effort; it proves nothing a held job relies on).
                    startedSent = Task { await progress.send(startedEvent) }
                    outcome = await runWithDeadline(context, interrupted: interrupted)
                }
            }
        } catch {
            outcome = .finished(.failed(reason: error.message))
        }

        let result: CompletionOutcome
        switch outcome {
        case .finished(let finished):
            result = finished
        case .interrupted where acknowledgement == .atStart:
            // Its message is acknowledged: there is nothing to give back, and running it again
            // elsewhere would break "at most once". It ends failed, saying why.
            logger.warning("long job stopped by shutdown; it ends failed and is not run again")
            metrics.longJobsStopped.increment()
            result = .failed(
                reason:
                    "stopped: the worker running this long job (\(configuration.workerName)) was shut down before it finished; "
                    + "a long job runs at most once, so it is not run again. Submit it again if it is still needed.")
        case .interrupted:
            logger.warning("job stopped by shutdown; returned to the queue")
            metrics.requeued.increment()
            delivery.nack(requeue: true)
            await startedSent?.value
            await progress.publish(.running, "worker shutting down; the job goes back to the queue", stateChange: true)
            return
        }
        var completion = Completion(
            jobID: job.jobID, worker: configuration.workerName, attempt: delivery.attempt, startedAt: startedAt, finishedAt: Date(),
            outcome: result,
            capability: job.completionCapability)
        if let size = Self.cutToMessageLimit(&completion) {
            logger.warning("completion over the message limit; its text is cut and marked", metadata: ["bytes": "\(size)"])
        }
        if acknowledgement == .atStart {
            // Already acknowledged: no requeue to fall back on, so keep trying even after the
            // shutdown grace (briefly then: the process is about to end).
            let policy = interrupted.isFired ? CompletionRetryPolicy(window: .seconds(10)) : CompletionRetryPolicy()
            if let error = await publishWithRetry(completion, policy: policy, interrupted: Signal(), logger: logger) {
                logger.error(
                    "completion publish failed for a long job; it is acknowledged, so the coordinator ends it lost after its deadline",
                    metadata: ["error": "\(error)"])
                metrics.completionPublishFailures.increment()
                return
            }
        } else {
            // Acked once the completion is confirmed (by the connection's thread as the confirm arrives).
            if let error = await publishWithRetry(completion, acking: delivery, interrupted: interrupted, logger: logger) {
                logger.error("completion publish failed; requeueing the job so it runs again", metadata: ["error": "\(error)"])
                metrics.completionPublishFailures.increment()
                metrics.requeued.increment()
                delivery.nack(requeue: true)
                return
            }
        }
        metrics.completionsPublished.increment()
        let duration = clock.now - started
        let recipeLabel =
            runner.catalog.recipes[job.recipe.name] != nil || runner.handlers[job.recipe.name] != nil ? job.recipe.name : "unknown"
        metrics.duration(recipe: recipeLabel, outcome: result.metricLabel).recordNanoseconds(duration.nanoseconds)
        // Progress events go out in order on their channel: "started" before "finished".
        await startedSent?.value
        switch result {
        case .succeeded(let text):
            metrics.succeeded.increment()
            logger.info(
                "job succeeded", metadata: ["duration_ms": "\(duration.nanoseconds / 1_000_000)", "result_bytes": "\(text.utf8.count)"])
            await progress.publish(
                .finished, RecipeRunner.finishedSummary(succeeded: text, after: duration), stateChange: true, fraction: 1)
        case .failed(let reason):
            metrics.failed.increment()
            logger.notice("job failed", metadata: ["duration_ms": "\(duration.nanoseconds / 1_000_000)", "reason": "\(reason)"])
            await progress.publish(
                .finished, "failed in \(RecipeRunner.seconds(duration)): the reason goes to the final surface", stateChange: true)
        case .cancelled:
            metrics.cancelled.increment()
            logger.notice("job cancelled; its recipe was stopped", metadata: ["duration_ms": "\(duration.nanoseconds / 1_000_000)"])
            await progress.publish(.finished, "cancelled", stateChange: true)
        }
    }

    /// A long job: acknowledge its message, confirm the claim with the `started` event, then run.
    ///
    /// The ack is fire-and-forget; the `started` event goes out after it on the same connection
    /// (one thread, in order), so its confirm shows the broker has read the ack. If it is not
    /// confirmed the connection failed around the ack: the job is not run here (if the ack was
    /// lost the broker delivers the job again; if not, this ending is its one notice).
    func runLong(
        _ context: JobContext, delivery: Delivery, started: ProgressEvent?, interrupted: Signal, logger: Logger
    ) async -> RunOutcome {
        delivery.ack()
        metrics.longJobs.increment()
        logger.info(
            "long job: acknowledged as it starts; it runs at most once",
            metadata: ["deadline": "\(WireDate.format(context.deadline))", "consumer_timeout_s": "\(configuration.consumerTimeout)"])
        if let started {
            do {
                try await publisher.publish(progress: started)
                metrics.progressPublished.increment()
            } catch {
                logger.error("could not confirm taking a long job; not running it", metadata: ["error": "\(error)"])
                return .finished(
                    .failed(
                        reason:
                            "not run: the worker (\(configuration.workerName)) could not confirm it had taken this long job "
                            + "(the broker connection failed as it started: \(error)); a long job runs at most once, so it did not start it"
                    ))
            }
        }
        return await runWithDeadline(context, interrupted: interrupted)
    }

    enum Race: Sendable {
        case finished(Result<String, any Error>)
        case deadline
        case interrupted
        case cancelled
    }

    /// Runs the recipe until it ends, the job's deadline passes, or shutdown's grace runs out.
    func runWithDeadline(_ context: JobContext, interrupted: Signal) async -> RunOutcome {
        let runner = self.runner
        if case .custom(let name, _) = context.recipe.kind, runner.handlers[name]?.returnsAtOnce == true {
            // Nothing to race: it cannot outlive the deadline, and it ends before a stop could.
            do { return .finished(.succeeded(result: try await runner.run(context))) } catch {
                if error is CancellationError || Task.isCancelled { return .interrupted }
                return .finished(.failed(reason: RecipeRunner.reason(error)))
            }
        }
        let remaining = context.deadline.timeIntervalSinceNow
        let race = await withTaskGroup(of: Race?.self) { group -> Race in
            group.addTask {
                do { return .finished(.success(try await runner.run(context))) } catch { return .finished(.failure(error)) }
            }
            group.addTask {
                // In slices: a cancelled sleep's timer stays armed until its deadline, so one long
                // sleep per job would keep memory for the whole deadline after the job ended.
                guard (try? await SlicedSleep.sleep(for: .milliseconds(Int64(max(0, remaining) * 1000)))) != nil else { return nil }
                return .deadline
            }
            group.addTask {
                await interrupted.wait()
                return Task.isCancelled ? nil : .interrupted
            }
            if let cancel = context.cancelSignal {
                group.addTask {
                    await cancel.wait()
                    return Task.isCancelled ? nil : .cancelled
                }
            }
            var first: Race = .interrupted
            for await result in group {
                if let result { first = result; break }
            }
            group.cancelAll()
            return first
        }
        switch race {
        case .finished(.success(let text)):
            return .finished(.succeeded(result: text))
        case .finished(.failure(let error)):
            if error is CancellationError || Task.isCancelled { return .interrupted }
            return .finished(.failed(reason: RecipeRunner.reason(error)))
        case .deadline:
            return .finished(
                .failed(
                    reason:
                        "deadline exceeded: recipe '\(context.recipe.name)' was still running at \(WireDate.format(context.deadline)) and was stopped"
                ))
        case .interrupted:
            return .interrupted
        case .cancelled:
            // The recipe task was cancelled above: its process group got SIGTERM (SIGKILL 2 s
            // later) and a checklist ran its rollbacks before the group returned.
            return .finished(.cancelled)
        }
    }
}

/// Publishes one job's progress through its throttle. Progress is best effort: a failed
/// publish is logged and never fails the job.
final class JobProgress<Publisher: WorkerPublishing>: Sendable {
    let job: JobMessage
    let worker: String
    let publisher: Publisher
    let logger: Logger
    let throttle: Mutex<ProgressThrottle>
    let metrics: WorkerMetrics?

    init(
        job: JobMessage, attempt: Int, configuration: WorkerConfiguration, publisher: Publisher, logger: Logger,
        metrics: WorkerMetrics? = nil
    ) {
        self.metrics = metrics
        self.job = job
        self.worker = configuration.workerName
        self.publisher = publisher
        self.logger = logger
        self.throttle = Mutex(ProgressThrottle(interval: configuration.progressInterval, firstSequence: (max(1, attempt) - 1) * 10_000 + 1))
    }

    var reporter: ProgressReporter {
        ProgressReporter { update in
            await self.publish(.running, update.message, stateChange: update.isStateChange, fraction: update.fraction)
        }
    }

    func publish(_ phase: ProgressEvent.Phase, _ message: String, stateChange: Bool, fraction: Double? = nil) async {
        await send(event(phase, message, stateChange: stateChange, fraction: fraction))
    }

    /// The event to publish (its sequence number taken now), or nil if the throttle holds it back.
    func event(_ phase: ProgressEvent.Phase, _ message: String, stateChange: Bool, fraction: Double? = nil) -> ProgressEvent? {
        let now = ContinuousClock.now
        guard let sequence = throttle.withLock({ $0.admit(stateChange: stateChange, at: now) }) else { return nil }
        return ProgressEvent(
            jobID: job.jobID, workSurface: job.workSurface, sequence: sequence, phase: phase, message: message, fraction: fraction,
            worker: worker, at: Date())
    }

    func send(_ event: ProgressEvent?) async {
        guard let event else { return }
        do {
            try await publisher.publish(progress: event)
            metrics?.progressPublished.increment()
        } catch {
            logger.debug("progress publish failed (ignored)", metadata: ["error": "\(error)"])
        }
    }
}

/// Counters and timers, dimensioned by pool (and recipe for durations).
struct WorkerMetrics: Sendable {
    let pool: String
    let factory: any MetricsFactory
    let started: Counter
    let succeeded: Counter
    let failed: Counter
    /// Stopped by a cancel while running; never started because cancelled first.
    let cancelled: Counter
    let cancelledBeforeStart: Counter
    let requeued: Counter
    let rejected: Counter
    let completionPublishFailures: Counter
    let completionsPublished: Counter
    let progressPublished: Counter
    let redeliveries: Counter
    /// Long jobs: acknowledged as they started; stopped by a shutdown (they end failed).
    let longJobs: Counter
    let longJobsStopped: Counter
    /// Jobs this worker runs at once (its prefetch), and how many run now.
    let slots: Gauge
    let running: Gauge

    init(pool: String, factory: any MetricsFactory) {
        self.pool = pool
        self.factory = factory
        let dimensions = [("pool", pool)]
        started = Counter(label: "bridgeback_worker_jobs_started_total", dimensions: dimensions, factory: factory)
        succeeded = Counter(label: "bridgeback_worker_jobs_succeeded_total", dimensions: dimensions, factory: factory)
        failed = Counter(label: "bridgeback_worker_jobs_failed_total", dimensions: dimensions, factory: factory)
        cancelled = Counter(label: "bridgeback_worker_jobs_cancelled_total", dimensions: dimensions, factory: factory)
        cancelledBeforeStart = Counter(
            label: "bridgeback_worker_jobs_cancelled_before_start_total", dimensions: dimensions, factory: factory)
        requeued = Counter(label: "bridgeback_worker_jobs_requeued_total", dimensions: dimensions, factory: factory)
        rejected = Counter(label: "bridgeback_worker_jobs_rejected_total", dimensions: dimensions, factory: factory)
        completionPublishFailures = Counter(
            label: "bridgeback_worker_completion_publish_failures_total", dimensions: dimensions, factory: factory)
        completionsPublished = Counter(label: "bridgeback_worker_completions_published_total", dimensions: dimensions, factory: factory)
        progressPublished = Counter(label: "bridgeback_worker_progress_published_total", dimensions: dimensions, factory: factory)
        redeliveries = Counter(label: "bridgeback_worker_redeliveries_total", dimensions: dimensions, factory: factory)
        longJobs = Counter(label: "bridgeback_worker_long_jobs_started_total", dimensions: dimensions, factory: factory)
        longJobsStopped = Counter(label: "bridgeback_worker_long_jobs_stopped_total", dimensions: dimensions, factory: factory)
        slots = Gauge(label: "bridgeback_worker_slots", dimensions: dimensions, factory: factory)
        running = Gauge(label: "bridgeback_worker_jobs_running", dimensions: dimensions, factory: factory)
    }

    /// `recipe` must come from the catalog (or be `unknown`): a label never carries free text from a message.
    func duration(recipe: String, outcome: String) -> Metrics.Timer {
        Metrics.Timer(
            label: "bridgeback_worker_job_duration_seconds", dimensions: [("pool", pool), ("recipe", recipe), ("outcome", outcome)],
            preferredDisplayUnit: .seconds, factory: factory)
    }
}

extension CompletionOutcome {
    /// The `outcome` label of the job duration histogram.
    var metricLabel: String {
        switch self {
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .cancelled: "cancelled"
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

extension WorkerService {
    /// A completion whose encoding is over `MessageLimits.maxMessageBytes` keeps the first
    /// `keptStringBytes` of its result or reason and a marker naming the full size: the same
    /// cut the coordinator makes on reading, done before publishing, so a runaway output
    /// (up to a recipe's 64 MiB cap) is never refused by the broker's `max_message_size`.
    /// Returns the encoded size when it cut.
    static func cutToMessageLimit(_ completion: inout Completion) -> Int? {
        // Most completions are far under the limit: no trial encoding for them (it was ~5 % of a
        // worker's CPU per job, the whole completion encoded once more before its publish).
        guard !fitsUnderMessageLimit(completion) else { return nil }
        guard let size = try? WireCodec.encode(completion).count, size > MessageLimits.maxMessageBytes else { return nil }
        func cut(_ text: String) -> String {
            var bytes = Array(text.utf8.prefix(MessageLimits.keptStringBytes))
            // Back to a whole character.
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes.removeLast() }
            if let last = bytes.last, last >= 0xC0 { bytes.removeLast() }
            let kept = String(decoding: bytes, as: UTF8.self)
            return kept + "\n\n"
                + MessageLimits.truncationMarker(fullBytes: size, limit: MessageLimits.maxMessageBytes, keptBytes: bytes.count)
        }
        switch completion.outcome {
        case .succeeded(let result): completion.outcome = .succeeded(result: cut(result))
        case .failed(let reason): completion.outcome = .failed(reason: cut(reason))
        case .cancelled: return nil
        }
        return size
    }

    /// True when the encoded completion cannot be over `MessageLimits.maxMessageBytes`, from its
    /// strings' lengths alone: JSON writes a string's UTF-8 byte in at most 6 bytes (`\u00XX`),
    /// and the keys, dates, numbers and punctuation take well under `fixedBytesBound`. False means
    /// "encode it to know", not "over".
    static func fitsUnderMessageLimit(_ completion: Completion) -> Bool {
        var stringBytes = completion.jobID.description.utf8.count + completion.worker.utf8.count
        stringBytes += completion.capability?.utf8.count ?? 0
        switch completion.outcome {
        case .succeeded(let text), .failed(let text): stringBytes += text.utf8.count
        case .cancelled: break
        }
        return 6 * stringBytes + fixedBytesBound <= MessageLimits.maxMessageBytes
    }

    /// More than a completion's JSON takes besides its strings' contents (~250 bytes today).
    static var fixedBytesBound: Int { 4096 }
}
