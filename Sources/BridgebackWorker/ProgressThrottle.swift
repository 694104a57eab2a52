/// Decides which progress reports are published: every state change, and routine updates at
/// most once per `interval` (counted from the last published report of either kind).
/// A plain value with no clock or I/O, so the cadence is testable with explicit instants.
struct ProgressThrottle: Sendable {
    let interval: Duration
    private(set) var sequence: Int
    private(set) var lastPublished: ContinuousClock.Instant?

    /// `firstSequence` lets a redelivered job continue above the numbers an earlier attempt
    /// may have used, so watchers that drop "not newer" updates still show the new attempt.
    init(interval: Duration, firstSequence: Int = 1) {
        self.interval = interval
        self.sequence = firstSequence - 1
    }

    /// The sequence number to publish under, or nil to drop the report.
    mutating func admit(stateChange: Bool, at now: ContinuousClock.Instant) -> Int? {
        if !stateChange, let lastPublished, now - lastPublished < interval { return nil }
        sequence += 1
        lastPublished = now
        return sequence
    }
}
