public import BridgebackAdmissionStore
import BridgebackAMQP
import BridgebackCore
import Foundation
import Synchronization
public import Logging
public import ServiceLifecycle

/// Wakes the relay when a transaction has added outbox rows.
///
/// Rings coalesce (at most one is buffered), so a burst of admissions costs one drain.
public final class OutboxDoorbell: Sendable {
    let events: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    public init() {
        (events, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Signals that new rows may be waiting.
    public func ring() { continuation.yield() }

    /// Ends the stream: the relay finishes its current pass and returns.
    func close() { continuation.finish() }
}

/// How the relay paces itself.
public struct OutboxRelayConfiguration: Sendable {
    /// Rows read (and published, windowed) per pass.
    public var batchSize: Int
    /// A pass also runs this often without a ring: catches rows a crashed ring missed.
    public var safetyPoll: Duration
    /// First retry delay after a failed publish; doubles up to `maxBackoff`.
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(
        batchSize: Int = 256, safetyPoll: Duration = .seconds(5), initialBackoff: Duration = .milliseconds(200),
        maxBackoff: Duration = .seconds(30)
    ) {
        self.batchSize = max(2, batchSize)
        self.safetyPoll = safetyPoll
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }
}

/// Publishes committed outbox rows to the broker, in order, with confirms, and marks them sent.
///
/// Per job, the contract is published ahead of the job on the same channel, and both are
/// confirmed in one wait. The contract is committed in the outbox before either goes out, so the
/// coordinator gets it even if the broker refuses it once: its row is published again until
/// confirmed (a completion that arrives first is parked until then). A failure leaves the row unsent;
/// the relay backs off and retries (after `outcomeUnknown` that may publish twice; the
/// coordinator and workers deduplicate by job id, the message id). Rows left unsent by a crash
/// are simply still unsent at the next start, so they go out then.
public final class OutboxRelay: Service {
    private let store: AdmissionStore
    private let publisher: any OutboxPublisher
    private let doorbell: OutboxDoorbell
    private let configuration: OutboxRelayConfiguration
    private let logger: Logger
    private let metrics: AdmissionMetrics
    /// Whether the publisher was connected right after the last failed publish, read before the
    /// failures are written to the store (a durable write that can take a while under load), so a
    /// reconnect during that write still ends the backoff.
    private let connectedAtFailure = Mutex(true)

    public init(
        store: AdmissionStore, publisher: any OutboxPublisher, doorbell: OutboxDoorbell,
        configuration: OutboxRelayConfiguration = .init(), logger: Logger, metrics: AdmissionMetrics = AdmissionMetrics()
    ) {
        self.store = store
        self.publisher = publisher
        self.doorbell = doorbell
        self.configuration = configuration
        self.logger = logger
        self.metrics = metrics
    }

    /// Runs until graceful shutdown (or cancellation): one pass at start, then one per ring or
    /// safety poll. On shutdown the pass in progress finishes; backoff waits are cut short.
    public func run() async throws {
        let doorbell = self.doorbell
        let poll = configuration.safetyPoll
        let handOff = store.outboxHandOff
        doorbell.ring()  // publish what a previous run left behind (the hand-off starts by reading)
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do { try await Task.sleep(for: poll) } catch { return }
                    // A poll reads the outbox: rows a missed ring or another process left there.
                    handOff.mustRead()
                    doorbell.ring()
                }
            }
            await withGracefulShutdownHandler {
                for await _ in doorbell.events {
                    if Task.isCancelled { break }
                    await drain()
                    if Task.isShuttingDownGracefully || Task.isCancelled { break }
                }
            } onGracefulShutdown: {
                doorbell.close()
            }
            group.cancelAll()
        }
        await publisher.shutdown()
        logger.info("outbox relay stopped")
    }

    /// Publishes until the outbox is empty, backing off after failures. Returns early on
    /// shutdown or cancellation.
    func drain() async {
        var backoff = configuration.initialBackoff
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let outcome: PassOutcome
            do {
                outcome = try await publishOnePass()
            } catch {
                outcome = .failed(transient: true, count: 0, firstError: "store: \(error)")
            }
            switch outcome {
            case .empty, .drained:
                return
            case .progressed:
                backoff = configuration.initialBackoff
            case .failed(let transient, let count, let firstError):
                // One line per pass, not per row: a broker outage must not flood the log.
                logger.log(
                    level: transient ? .warning : .error,
                    transient
                        ? "outbox rows not published (broker unavailable); retrying"
                        : "outbox rows refused by the broker (check topology and permissions); retrying",
                    metadata: ["outbox.failed": "\(count)", "outbox.retry_in": "\(backoff)", "error": "\(firstError)"])
                let wasConnected = count == 0 ? await publisher.isConnected() : connectedAtFailure.withLock { $0 }
                switch await waitBeforeRetry(backoff, wasConnected: wasConnected) {
                case .stopped:
                    return
                case .reconnected:
                    // The broker is back: what waited goes out now, and the next failure starts
                    // the backoff afresh instead of where the outage left it.
                    logger.info("broker connection is back; publishing the outbox now")
                    backoff = configuration.initialBackoff
                case .elapsed:
                    backoff = min(backoff * 2, configuration.maxBackoff)
                }
            }
        }
    }

    enum Wait: Equatable {
        case elapsed
        case reconnected
        case stopped
    }

    /// Sleeps `delay`, cut short when the publisher's connection comes back (it was down at
    /// the failure and is up now) or on shutdown. Checks the connection every 100 ms.
    func waitBeforeRetry(_ delay: Duration, wasConnected: Bool) async -> Wait {
        let end = ContinuousClock.now + delay
        while ContinuousClock.now < end {
            let slice = min(end - ContinuousClock.now, .milliseconds(100))
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: slice) }
            } catch {
                return .stopped
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { return .stopped }
            if !wasConnected, await publisher.isConnected() { return .reconnected }
        }
        return .elapsed
    }

    enum PassOutcome: Equatable {
        case empty
        /// Every row the pass read went out, and they were fewer than a batch: the outbox was
        /// empty behind them when read. A row committed since rang the doorbell after its
        /// commit, so it gets a pass of its own: no second read to find the outbox empty.
        case drained
        case progressed
        case failed(transient: Bool, count: Int, firstError: String)
    }

    /// One batch, in outbox order (each job's contract before the job), windowed, then every
    /// outcome of the pass recorded in one transaction.
    ///
    /// The batch is the rows the store's commits handed over (`OutboxHandOff`) while that stream is
    /// known complete, else a read of the outbox.
    func publishOnePass() async throws -> PassOutcome {
        let handOff = store.outboxHandOff
        let rows: [OutboxRow]
        let read: Bool
        switch handOff.next(limit: configuration.batchSize) {
        case .publish(let handed):
            rows = handed
            read = false
        case .read:
            handOff.readStarted()
            rows = try await store.unsentOutbox(limit: configuration.batchSize)
            read = true
            if let last = rows.last { handOff.readReturned(maxSeq: last.seq) }
        }
        guard !rows.isEmpty else {
            if read { handOff.readDrained() }
            metrics.backlog(0)
            metrics.oldest(ageSeconds: 0)
            return .empty
        }
        var outcomes = Outcomes()
        // Contracts and jobs in one window, each contract ahead of its job on the channel, and
        // one wait for all their confirms (not a contract wait, then a job wait). A job may so
        // be confirmed while its contract is not: the contract row stays unsent and goes out
        // again until confirmed, and the coordinator parks the job's completion until it comes.
        let failures = await publish(rows, into: &outcomes).filter { !$0.ok }
        var recorded = true
        do {
            try await store.recordOutcomes(sent: outcomes.sent, failed: outcomes.failed, at: Date())
        } catch {
            // The rows stay unsent and go out again: a duplicate, which consumers drop by job id.
            logger.error("cannot record outbox outcomes; rows will be published again", metadata: ["error": "\(error)"])
            recorded = false
        }
        if !outcomes.sent.isEmpty {
            logger.debug("outbox rows confirmed", metadata: ["outbox.count": "\(outcomes.sent.count)"])
        }
        // A failed row (or an unrecorded outcome) is still unsent in the outbox: read it again.
        if !failures.isEmpty || !recorded { handOff.mustRead() }
        if failures.isEmpty && rows.count < configuration.batchSize {
            if read && recorded { handOff.readDrained() }
            metrics.backlog(0)
            metrics.oldest(ageSeconds: 0)
            return .drained
        }
        let backlog = try await store.backlog()
        metrics.backlog(backlog.count)
        metrics.oldest(ageSeconds: backlog.oldest.map { Date().timeIntervalSince($0) } ?? 0)
        if let first = failures.first {
            return .failed(transient: failures.allSatisfy(\.transient), count: failures.count, firstError: first.error)
        }
        return .progressed
    }

    private struct RowResult {
        var ok: Bool
        var transient: Bool
        var error: String = ""
    }

    /// What a pass learned, recorded at its end.
    private struct Outcomes {
        var sent: [OutboxRow] = []
        var failed: [(seq: Int64, error: String)] = []
    }

    /// Publishes rows in order (windowed confirms) and collects which were confirmed.
    private func publish(_ rows: [OutboxRow], into outcomes: inout Outcomes) async -> [RowResult] {
        guard !rows.isEmpty else { return [] }
        let messages = rows.map(Self.message(for:))
        let results = await publisher.publish(messages)
        if results.count < rows.count || results.contains(where: { if case .failure = $0 { true } else { false } }) {
            let connected = await publisher.isConnected()
            connectedAtFailure.withLock { $0 = connected }
        }
        var out: [RowResult] = []
        for (index, row) in rows.enumerated() {
            let result: Result<Void, AMQPError> =
                index < results.count ? results[index] : .failure(AMQPError(.outcomeUnknown, "the publisher returned no outcome"))
            switch result {
            case .success:
                outcomes.sent.append(row)
                metrics.published(kind: row.kind.rawValue)
                out.append(RowResult(ok: true, transient: true))
            case .failure(let error):
                outcomes.failed.append((row.seq, error.description))
                metrics.publishFailed(code: error.code.description)
                // 403/404 (permissions, missing exchange) close the channel too, but need an operator.
                let refused = error.replyCode == 403 || error.replyCode == 404
                let transient = !refused && (error.isTransient || error.code == .outcomeUnknown || error.code == .closedByUser)
                out.append(RowResult(ok: false, transient: transient, error: error.description))
                logger.debug(
                    "outbox publish failed",
                    metadata: [
                        "job_id": "\(row.jobID)", "outbox.kind": "\(row.kind.rawValue)", "outbox.seq": "\(row.seq)",
                        "outbox.attempts": "\(row.attempts + 1)", "error": "\(error)",
                    ])
            }
        }
        return out
    }

    /// The AMQP message for a row: persistent, mandatory, the job id as message id.
    static func message(for row: OutboxRow) -> OutboundMessage {
        let type: String = row.kind == .contract ? OwnershipContract.schema.description : JobMessage.schema.description
        return OutboundMessage(
            exchange: row.exchange, routingKey: row.routingKey, body: row.payload,
            properties: MessageProperties(
                contentType: "application/json", persistent: true, messageID: row.jobID,
                timestamp: UInt64(max(0, row.createdAt.timeIntervalSince1970)), type: type, appID: "bridgeback-admission"),
            mandatory: true)
    }
}
