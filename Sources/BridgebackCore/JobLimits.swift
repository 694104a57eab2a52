import Foundation

/// How long a job may run, and how its message is held, bounded by the broker.
///
/// A worker holds a job's message unacknowledged while it runs so that a lost worker's job is
/// delivered again; but past RabbitMQ's `consumer_timeout` (global only in 3.10) the broker closes
/// the channel and requeues the job, which then runs twice. So a job whose deadline cannot fit under
/// the timeout is a *long job*: the worker acknowledges it when it starts it and it runs at most
/// once (a lost worker's long job ends `lost`, never re-run). See docs/delivery.md, "Long jobs".
///
/// The same numbers are in `deploy/limits.env`, which the broker script, the systemd units and
/// the worker read; a test keeps the two equal.
public enum JobLimits {
    /// The broker's `consumer_timeout` the defaults assume, in seconds (2 h).
    public static let brokerConsumerTimeoutSeconds: Double = 7200
    /// The longest `deadline_s` admission accepts by default (7 days). Jobs that cannot fit under
    /// the timeout are long jobs (at most once).
    public static let maxDeadlineSeconds: Double = 7 * 24 * 3600
    /// What a held job needs under the timeout besides its run: stopping the recipe at the
    /// deadline and publishing the completion (retried for up to 2 minutes) before the ack.
    public static let heldMarginSeconds: Double = 300

    /// The broker's timeout from `BRIDGEBACK_CONSUMER_TIMEOUT_MS` (milliseconds), in seconds:
    /// the default when unset, nil when it is not a positive number of at most 10^12 (31 years).
    public static func consumerTimeoutSeconds(environment value: String?) -> Double? {
        guard let value, !value.isEmpty else { return brokerConsumerTimeoutSeconds }
        guard let milliseconds = Double(value), milliseconds > 0, milliseconds <= 1e12 else { return nil }
        return milliseconds / 1000
    }
}

/// When a worker acknowledges a job's message: the one decision that separates a held job
/// (at least once) from a long job (at most once).
public enum JobAcknowledgement: Sendable, Equatable {
    /// Held unacknowledged until its completion is confirmed: a worker lost mid-run gives it back
    /// and another runs it again (the coordinator delivers one ending).
    case afterCompletion
    /// Acknowledged as it starts, because holding it would outlast the broker's `consumer_timeout`
    /// (the broker would requeue it mid-run and it would run twice). Runs at most once: a worker
    /// lost mid-run leaves the coordinator's lost-job sweeper to end it `lost`.
    case atStart

    /// `remaining`: seconds until the job's deadline, as the worker takes it; `consumerTimeout`:
    /// the broker's, in seconds; `margin`: what a held job needs under it besides the run.
    public static func decide(remaining: Double, consumerTimeout: Double, margin: Double = JobLimits.heldMarginSeconds)
        -> JobAcknowledgement
    {
        max(0, remaining) + margin < consumerTimeout ? .afterCompletion : .atStart
    }
}
