/// When to try a failed send again: exponential backoff with jitter, a ceiling, and a bound.
///
/// The defaults spread 12 attempts over about 2.5 hours, as Standard Webhooks recommends
/// (retries over hours, not seconds). A receiver's `Retry-After` always wins if it is longer.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in total, the first included; after the last one a retryable failure is final.
    public var maxAttempts: Int
    /// Delay after the first failed attempt, in seconds.
    public var baseDelay: Double
    /// Largest computed delay, in seconds (a longer `Retry-After` is still honoured).
    public var maxDelay: Double
    /// 0…1: how much of each delay is randomised away, so retries from many jobs do not align.
    public var jitter: Double

    public init(maxAttempts: Int = 12, baseDelay: Double = 5, maxDelay: Double = 3600, jitter: Double = 0.5) {
        precondition(maxAttempts >= 1 && baseDelay >= 0 && maxDelay >= baseDelay && (0...1).contains(jitter))
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    public static let standard = RetryPolicy()

    /// Seconds to wait after failed attempt number `attempt` (1-based). `random` is in 0..<1.
    public func delay(afterAttempt attempt: Int, retryAfter: Double?, random: Double) -> Double {
        let exponent = Double(max(0, min(attempt - 1, 62)))
        let backoff = min(maxDelay, baseDelay * pow2(exponent))
        let jittered = backoff * (1 - jitter * min(max(random, 0), 1))
        return max(jittered, retryAfter ?? 0)
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
