/// How long a job may run, bounded by the broker. A worker holds the job's message
/// unacknowledged while it runs; past RabbitMQ's `consumer_timeout` the broker closes the
/// channel and requeues the job, which then runs twice. Admission refuses longer deadlines.
///
/// The same numbers are in `deploy/limits.env`, which the broker script and the systemd units
/// read; a test keeps the two equal.
public enum JobLimits {
    /// The broker's `consumer_timeout` the defaults assume, in seconds (2 h).
    public static let brokerConsumerTimeoutSeconds: Double = 7200
    /// The longest `deadline_s` admission accepts by default: the timeout less 10 minutes for
    /// the time a job waits in its queue before a worker takes it and for the completion.
    public static let maxDeadlineSeconds: Double = 6600

    /// Why `maxDeadline` cannot be honoured by a broker with `consumerTimeout` (seconds), or nil.
    public static func problem(maxDeadline: Double, consumerTimeout: Double) -> String? {
        guard maxDeadline < consumerTimeout else {
            return "the longest deadline (\(Int(maxDeadline)) s) must be below the broker's consumer_timeout (\(Int(consumerTimeout)) s): "
                + "a job running past it is requeued and runs twice; lower --max-deadline or raise BRIDGEBACK_CONSUMER_TIMEOUT_MS"
        }
        return nil
    }
}
