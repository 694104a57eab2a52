public import BridgebackCore
public import Foundation

/// The coordinator's knobs. Defaults suit production; tests shrink the times.
public struct CoordinatorConfiguration: Sendable {
    /// How long past a job's deadline to wait for its completion before a `lost` notice.
    public var lostGrace: TimeInterval
    /// How often the sweeper looks for lost jobs and orphaned parked completions.
    public var sweepInterval: Duration
    /// A completion parked this long without its contract is reported (logged) as an orphan.
    public var orphanAfter: TimeInterval
    /// Backoff for retryable delivery failures.
    public var retryPolicy: RetryPolicy
    /// Broker users allowed to publish completions (checked against the validated AMQP
    /// `user_id`). Empty: no check (e.g. a broker without validated user ids).
    public var trustedCompletionUsers: Set<String>
    /// The largest message taken whole; a longer completion is cut while it is read and its
    /// result ends with a truncation marker (`MessageLimits`).
    public var maxMessageBytes: Int
    /// How long the ledger keeps jobs it is done with (thirty days by default; `LedgerRetention.swift`).
    public var retention: Retention
    /// The clock; injected so tests can move time.
    public var now: @Sendable () -> Date

    public init(
        lostGrace: TimeInterval = 300,
        sweepInterval: Duration = .seconds(15),
        orphanAfter: TimeInterval = 24 * 3600,
        retryPolicy: RetryPolicy = .standard,
        trustedCompletionUsers: Set<String> = [],
        maxMessageBytes: Int = MessageLimits.maxMessageBytes,
        retention: Retention = .standard,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.retention = retention
        self.maxMessageBytes = maxMessageBytes
        self.lostGrace = lostGrace
        self.sweepInterval = sweepInterval
        self.orphanAfter = orphanAfter
        self.retryPolicy = retryPolicy
        self.trustedCompletionUsers = trustedCompletionUsers
        self.now = now
    }
}
