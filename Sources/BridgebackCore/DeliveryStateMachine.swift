public import Foundation

/// The sans-I/O state machine for one ledger row: one part of one job's final delivery.
///
/// Style of swift-nio-http2's `StreamStateMachine`: the caller feeds an event, **persists the
/// new `state` (one SQLite transaction)**, then performs the returned `Action`. Events that
/// the current state forbids throw `invalidTransition` and leave the state unchanged.
public struct DeliveryStateMachine: Sendable, Hashable {
    /// What the caller must do next, after persisting `state`.
    public enum Action: Sendable, Hashable {
        /// Run the adapter's dry-run, then call `dryRunPassed()` or `dryRunFailed(_:now:using:)`.
        case runDryRun
        /// Call `sendStarting()` (which persists `sending` before anything leaves the process).
        case beginSend
        /// Send now with this delivery id, then call `sendSucceeded(at:)` or `sendFailed(_:now:using:)`.
        case send(DeliveryID, attempt: Int)
        /// Arm a timer; at `until` call `retryDue(now:)`.
        case wait(until: Date)
        /// Terminal: record a receipt and tell the job lifecycle (and the parent for `uncertain`).
        /// For a `failed` part of a `direct` delivery, the coordinator also starts a fallback
        /// delivery (`DeliveryID.Purpose.fallback`) to the work surface.
        case finished(DeliveryOutcome, DeliveryFailure?)
    }

    public let deliveryID: DeliveryID
    /// From the surface registry: whether the receiver drops a repeated delivery id.
    public let receiverDeduplicates: Bool
    public let retryPolicy: RetryPolicy
    public private(set) var state: DeliveryState

    /// A new row in `pending`.
    public init(deliveryID: DeliveryID, receiverDeduplicates: Bool, retryPolicy: RetryPolicy = .standard) {
        self.init(
            restoring: .pending(attempts: 0), deliveryID: deliveryID, receiverDeduplicates: receiverDeduplicates, retryPolicy: retryPolicy)
    }

    /// A row read back from the ledger; call `resume(now:using:)` to learn what to do.
    public init(restoring state: DeliveryState, deliveryID: DeliveryID, receiverDeduplicates: Bool, retryPolicy: RetryPolicy = .standard) {
        self.deliveryID = deliveryID
        self.receiverDeduplicates = receiverDeduplicates
        self.retryPolicy = retryPolicy
        self.state = state
    }

    /// What to do for the current state, e.g. after a restart. A row found in `sending` is an
    /// interrupted send: treated as `unknown_outcome` (retried with the same id to a
    /// deduplicating receiver, `uncertain` otherwise).
    public mutating func resume(now: Date, using generator: inout some RandomNumberGenerator) -> Action {
        switch state {
        case .pending: return .runDryRun
        case .dryRunOK: return .beginSend
        case .sending:
            let failure = DeliveryFailure(.unknownOutcome, detail: "the coordinator stopped while this send was in flight")
            return (try? sendFailed(failure, now: now, using: &generator)) ?? .runDryRun
        case .retryWait(_, let at, _): return now >= at ? (try? retryDue(now: now)) ?? .wait(until: at) : .wait(until: at)
        case .delivered: return .finished(.delivered, nil)
        case .failed(_, let failure, _): return .finished(.failed, failure)
        case .uncertain(_, let failure): return .finished(.uncertain, failure)
        }
    }

    /// `pending → dry_run_ok`.
    public mutating func dryRunPassed() throws(BridgebackError) -> Action {
        guard case .pending(let attempts) = state else { throw invalid("dry_run_passed") }
        state = .dryRunOK(attempts: attempts)
        return .beginSend
    }

    /// `pending → failed` (terminal kinds, or retries exhausted) or `pending → retry_wait`.
    /// A dry-run sends nothing, so `unknown_outcome` here counts as `transport`.
    public mutating func dryRunFailed(_ failure: DeliveryFailure, now: Date, using generator: inout some RandomNumberGenerator)
        throws(BridgebackError) -> Action
    {
        guard case .pending(let attempts) = state else { throw invalid("dry_run_failed(\(failure.kind.name))") }
        var failure = failure
        if case .unknownOutcome = failure.kind { failure.kind = .transport }
        return fail(failure, attempt: attempts + 1, now: now, using: &generator)
    }

    /// `dry_run_ok → sending`: persist this before the request leaves the process.
    public mutating func sendStarting() throws(BridgebackError) -> Action {
        guard case .dryRunOK(let attempts) = state else { throw invalid("send_starting") }
        state = .sending(attempt: attempts + 1)
        return .send(deliveryID, attempt: attempts + 1)
    }

    /// `sending → delivered`.
    public mutating func sendSucceeded(at date: Date) throws(BridgebackError) -> Action {
        guard case .sending(let attempt) = state else { throw invalid("send_succeeded") }
        state = .delivered(attempts: attempt, at: date)
        return .finished(.delivered, nil)
    }

    /// `sending → failed | retry_wait | uncertain`, by the failure taxonomy and the receiver.
    public mutating func sendFailed(_ failure: DeliveryFailure, now: Date, using generator: inout some RandomNumberGenerator)
        throws(BridgebackError) -> Action
    {
        guard case .sending(let attempt) = state else { throw invalid("send_failed(\(failure.kind.name))") }
        if case .unknownOutcome = failure.kind, !receiverDeduplicates {
            state = .uncertain(attempts: attempt, failure: failure)
            return .finished(.uncertain, failure)
        }
        return fail(failure, attempt: attempt, now: now, using: &generator)
    }

    /// `retry_wait → pending` once due (the next try starts with a fresh dry-run). Early: no change, wait again.
    public mutating func retryDue(now: Date) throws(BridgebackError) -> Action {
        guard case .retryWait(let attempts, let at, _) = state else { throw invalid("retry_due") }
        guard now >= at else { return .wait(until: at) }
        state = .pending(attempts: attempts)
        return .runDryRun
    }

    private mutating func fail(_ failure: DeliveryFailure, attempt: Int, now: Date, using generator: inout some RandomNumberGenerator)
        -> Action
    {
        guard failure.kind.isRetryable else {
            state = .failed(attempts: attempt, failure: failure, exhausted: false)
            return .finished(.failed, failure)
        }
        guard attempt < retryPolicy.maxAttempts else {
            if case .unknownOutcome = failure.kind {
                // Even a deduplicating receiver never confirmed it: say so rather than "failed".
                state = .uncertain(attempts: attempt, failure: failure)
                return .finished(.uncertain, failure)
            }
            state = .failed(attempts: attempt, failure: failure, exhausted: true)
            return .finished(.failed, failure)
        }
        var retryAfter: Double?
        if case .rateLimited(let after) = failure.kind { retryAfter = after }
        let delay = retryPolicy.delay(afterAttempt: attempt, retryAfter: retryAfter, random: Double.random(in: 0..<1, using: &generator))
        let at = now.addingTimeInterval(delay)
        state = .retryWait(attempts: attempt, nextAttemptAt: at, lastFailure: failure)
        return .wait(until: at)
    }

    private func invalid(_ event: String) -> BridgebackError {
        BridgebackError(
            .invalidTransition,
            "delivery \(deliveryID) cannot take event \(event) in state \(state.name)",
            jobID: deliveryID.job.description, field: "state")
    }
}
