import BridgebackAMQP
import BridgebackCore
import Logging

/// When and how long a worker retries publishing a completion before giving the job back.
///
/// A completion that cannot be published yet (the connection is failing over to another node, or a
/// quorum queue is electing a new leader and nacks publishes) is retried with capped backoff while
/// the worker holds the result. Requeueing at once instead would spend one of the job's deliveries
/// per try (`x-delivery-limit` counts them) and turn a few seconds of broker failover into
/// dead-lettered jobs, which the coordinator reports as "stopped its worker every time it ran".
struct CompletionRetryPolicy: Sendable, Equatable {
    var firstDelay: Duration = .milliseconds(100)
    var maxDelay: Duration = .seconds(5)
    /// How long to keep trying before requeueing the job (and so spending a delivery).
    var window: Duration = .seconds(120)

    /// The delay before retry `retry` (1-based): first · 2^(retry-1), capped.
    func delay(beforeRetry retry: Int) -> Duration {
        let exponent = min(max(retry - 1, 0), 16)
        let delay = firstDelay * (1 << exponent)
        return delay > maxDelay ? maxDelay : delay
    }

    /// Broker-side conditions that pass (the connection, a confirm, a leader) are worth waiting
    /// out; anything else (the completion does not encode, a fake's error) is not.
    static func isTransient(_ error: any Error) -> Bool {
        guard let error = error as? AMQPError else { return false }
        switch error.code {
        case .notConnected, .publishNacked, .outcomeUnknown, .connectionClosed, .channelClosed, .timeout, .unroutable: return true
        default: return false
        }
    }
}

extension WorkerService {
    /// Publishes `completion`, retrying transient broker failures within the policy's window.
    /// Returns the last error when it gave up (the caller requeues the job), nil once confirmed.
    /// With `acking`, that job is acked once the completion is confirmed (and only then).
    func publishWithRetry(
        _ completion: Completion, acking delivery: Delivery? = nil, policy: CompletionRetryPolicy = CompletionRetryPolicy(),
        interrupted: Signal, logger: Logger
    ) async -> (any Error)? {
        let clock = ContinuousClock()
        let deadline = clock.now + policy.window
        var retry = 0
        while true {
            do {
                if let delivery {
                    try await publisher.publish(completion: completion, thenAck: delivery)
                } else {
                    try await publisher.publish(completion: completion)
                }
                if retry > 0 { logger.notice("completion published after \(retry) retries") }
                return nil
            } catch {
                retry += 1
                let delay = policy.delay(beforeRetry: retry)
                guard CompletionRetryPolicy.isTransient(error), !interrupted.isFired, clock.now + delay < deadline else {
                    return error
                }
                if retry == 1 {
                    logger.warning("completion publish failed; holding the result and retrying", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: delay)
            }
        }
    }
}
